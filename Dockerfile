# mpwatch in a container: `mpwatch worker` by default; `mpwatch ship` and `mpwatch run` with another
# command. Build from the repository root:  docker build -t mpwatch:0.1.0 .
# Dependencies are installed at the versions the tests ran with (deploy/docker/constraints.txt, written
# by deploy/docker/lock.py; wheels only, so the slim base needs no compiler). deploy/compose/compose.yaml
# builds and runs it. CI has no Docker: BuildKit's build checks run over this file instead (make go-tools).
FROM python:3.11.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A fixed, unprivileged user; its state folders exist in the image so named volumes inherit the owner.
RUN groupadd --system --gid 10001 mpwatch \
    && useradd --system --uid 10001 --gid mpwatch --home-dir /var/lib/mpwatch --shell /usr/sbin/nologin mpwatch \
    && mkdir -p /var/lib/mpwatch/worker /var/lib/mpwatch/ship /var/lib/mpwatch/run \
    && chown -R mpwatch:mpwatch /var/lib/mpwatch

WORKDIR /opt/mpwatch
COPY deploy/docker/constraints.txt ./constraints.txt
RUN pip install --only-binary=:all: --constraint constraints.txt --requirement constraints.txt
COPY pyproject.toml README.md ./
COPY shipper ./shipper
COPY streams ./streams
RUN pip install --no-deps . && rm -rf build ./*.egg-info
COPY deploy/docker/healthcheck.py /usr/local/bin/mpwatch-healthcheck

USER mpwatch:mpwatch
WORKDIR /var/lib/mpwatch
ENV MPWATCH_DATA_DIR=/var/lib/mpwatch/worker
EXPOSE 6066

# GET /-/healthy of the worker (MPWATCH_WEB_HOST:MPWATCH_WEB_PORT) or of MPWATCH_HEALTH_URL.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "/usr/local/bin/mpwatch-healthcheck"]

ENTRYPOINT ["mpwatch"]
CMD ["worker"]
