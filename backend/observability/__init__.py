"""Operations: request ids, structured logs, Prometheus metrics, graceful shutdown.

A low layer: it imports nothing from the booking rules or the live fan-out, so any part
of the app may use it. One room each:

* `logs` — one formatter for the app's and uvicorn's logs, `text` or `json`, every line
  stamped with the request id;
* `metrics` — a Prometheus registry per app and `GET /metrics`;
* `shutdown` — on SIGTERM/SIGINT, websockets are closed with 1001 before the server stops;
* `requestid` — the route middleware that ties them to each request.
"""
