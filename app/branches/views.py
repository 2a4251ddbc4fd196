from flask import Blueprint

bp = Blueprint("branches", __name__, url_prefix="/settings/branches")
