"""The operators' and departments' web console (server-rendered FastAPI pages)."""
