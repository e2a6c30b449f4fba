# The public Rasa 3.6.21 image with this project's NLU components and a model trained by
# `make setup` (copied from models/current.tar.gz, which setup links to the cached model).
FROM rasa/rasa:3.6.21-full
USER root
COPY requirements/rasa.lock /tmp/rasa.lock
RUN grep -E '^(jieba|opencc|python-stdnum)==' /tmp/rasa.lock > /tmp/extra.txt \
    && pip install --no-cache-dir -r /tmp/extra.txt
USER 1001
WORKDIR /app
COPY --chown=1001 config.yml endpoints.yml credentials.yml ./
COPY --chown=1001 domain domain
COPY --chown=1001 nlu nlu
COPY --chown=1001 hotline/__init__.py hotline/textnorm.py hotline/heap.py hotline/rasa_start.py hotline/
COPY --chown=1001 models/current.tar.gz models/current.tar.gz
ENV PYTHONPATH=/app RASA_TELEMETRY_ENABLED=false OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
# `rasa` with the action-reply check built once (nlu/rasa_main.py), warmed and its start's heap
# kept out of the collector's full passes once the model is loaded (hotline/rasa_start.py);
# the arguments stay rasa's.
ENTRYPOINT ["python", "-m", "hotline.rasa_start"]
