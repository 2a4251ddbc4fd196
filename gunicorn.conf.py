"""gunicorn's settings for ectix, read by itself from the directory it starts in (README,
Production): its error log goes through the app's log handler (one JSON object per line unless
ECTIX_LOG_FORMAT=text), and it keeps no access log of its own: the app writes one access line
per request, with the request id and the route (app.observability.logs)."""

# Every top-level name here is read as a setting: import no module under a setting's name.
from app.config import log_settings
from app.observability.logs import gunicorn_logconfig

logconfig_dict = gunicorn_logconfig(log_settings())
accesslog = None
