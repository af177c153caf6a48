# Chatshop worker image: `chatshop run` (both bots, webhooks, events) on PostgreSQL + Redis.
# Not built on the development machine (no Docker there); kept minimal and reviewed by hand.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY shop ./shop
COPY bot ./bot
COPY admin_bot ./admin_bot
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --system --create-home --home-dir /app chatshop
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER chatshop
WORKDIR /app
ENV PYTHONUNBUFFERED=1 LOG_FORMAT=json HTTP_HOST=0.0.0.0 HTTP_PORT=8080
EXPOSE 8080
# SIGTERM drains: no new updates, the ones in flight finish, events are flushed.
STOPSIGNAL SIGTERM
CMD ["chatshop", "run", "--workers", "2"]
