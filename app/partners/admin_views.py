from flask import Blueprint

bp = Blueprint("partners_admin", __name__, url_prefix="/operator/partners")
