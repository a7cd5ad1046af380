"""The timeline page's static files (index.html, app.js, app.css), served by ``streams.http``."""
