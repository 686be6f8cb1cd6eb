# Herald's production image: one image, three roles (web, worker, scheduler) chosen by command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    HERALD_INSTANCE_PATH=/var/lib/herald
WORKDIR /app
# Pango for WeasyPrint: the weekly report as PDF
RUN apt-get update && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY herald ./herald
RUN pip install . && useradd --system --home /var/lib/herald herald \
    && mkdir -p /var/lib/herald && chown herald /var/lib/herald
USER herald
EXPOSE 8000
CMD ["herald", "web", "--host", "0.0.0.0", "--port", "8000", "--access-log"]
