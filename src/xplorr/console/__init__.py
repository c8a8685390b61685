"""The web console: server-rendered pages (Jinja2, htmx, Chart.js; no Node at runtime, no CDN)
over the REST API of the same process, for people who do not use the API."""
