"""全站搜尋: one box in the header finds a store's tickets and orders by what a customer brings."""
