from flask import Blueprint

bp = Blueprint("escrow", __name__, url_prefix="/operator/escrow")
