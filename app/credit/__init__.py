"""The credit-card back office (信用卡收單): what happens to a card transaction after its
authorisation — close (capture), cancel a close, abandon, refund."""
