"""The console's JSON API (FastAPI routers, built by factories; nothing runs at import)."""
