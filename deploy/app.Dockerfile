# Gateway (with the console) and action server: Python 3.11 with the locked dependencies.
FROM python:3.11-slim
WORKDIR /app
COPY requirements/app.lock requirements/app.lock
# The PostgreSQL driver is only needed in deployment (development uses SQLite).
RUN pip install --no-cache-dir -r requirements/app.lock "psycopg[binary]==3.3.9"
COPY hotline hotline
COPY bot bot
COPY actions actions
COPY console console
COPY kb kb
COPY nlu/jieba nlu/jieba
COPY alembic.ini ./
ENV PYTHONPATH=/app OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
