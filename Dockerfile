# Dockerfile - autopxe image: Debian 12 build stage (compile + unit tests, optional iPXE) and a small runtime stage.
#
#   docker build -t autopxe .                                   # autopxe only
#   docker build -t autopxe --build-arg BUILD_IPXE=1 .          # + iPXE with the embedded script (clones iPXE)
#   docker run --network host -v /pxe/rootfs:/pxe/rootfs:ro -v $PWD/config.yaml:/config.yaml:ro autopxe
#
# The build steps live in scripts/docker-build.sh so that tests run exactly the same steps without Docker.
# See docs/deploy.md.

ARG BUILD_IMAGE=debian:bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# Build dependencies in their own stage: a cacheable layer that source changes do not invalidate.
FROM ${BUILD_IMAGE} AS build-deps
# 1 = also build iPXE (undionly.kpxe, ipxe.efi, snponly.efi, ipxe.lkrn) into the image's IPXEDir.
ARG BUILD_IPXE=0
COPY scripts/docker-build.sh /usr/local/lib/autopxe-build/docker-build.sh
RUN BUILD_IPXE="${BUILD_IPXE}" /usr/local/lib/autopxe-build/docker-build.sh --deps-only

FROM build-deps AS build
ARG BUILD_IPXE=0
# Passed to embedded/build-ipxe.sh, e.g. "--git-ref v2.0.0 --server 192.0.2.10" or "--src /src/ipxe".
ARG IPXE_ARGS=""
# 0 skips `make unit` (not recommended; the tests are what makes this build trustworthy).
ARG RUN_TESTS=1
WORKDIR /src
COPY . /src
RUN BUILD_IPXE="${BUILD_IPXE}" IPXE_ARGS="${IPXE_ARGS}" RUN_TESTS="${RUN_TESTS}" \
    scripts/docker-build.sh --no-deps --build /tmp/build --stage /stage

# Runtime libraries only (libblkid1 is already part of Debian's base), and the unprivileged user.
FROM ${RUNTIME_IMAGE} AS runtime-base
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libyaml-0-2 libarchive13 libblkid1 libmicrohttpd12 libjansson4 libsqlite3-0 libpq5 \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && useradd --system --uid 10001 --user-group --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin autopxe \
 && install -d -m 0750 -o autopxe -g autopxe /var/lib/autopxe

FROM runtime-base AS runtime
# /usr/local/bin/autopxe carries cap_net_bind_service (file capability set in the build stage), so the
# unprivileged user can bind TFTP port 69 and HTTP port 80. Do not run with no-new-privileges: that
# makes the kernel ignore file capabilities.
COPY --from=build /stage/ /
# StateDir (pins, boot timeline): mount a volume here to keep them across container restarts.
VOLUME /var/lib/autopxe
USER autopxe:autopxe
ENV AUTOPXE_HEALTH_HOST=127.0.0.1 AUTOPXE_HTTP_PORT=80
EXPOSE 69/udp 80/tcp
# /healthz over bash's /dev/tcp: no curl in the image. When HTTPListen is not *:80, set AUTOPXE_HTTP_PORT
# (and AUTOPXE_HEALTH_HOST when it binds one address only).
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/${AUTOPXE_HEALTH_HOST:-127.0.0.1}/${AUTOPXE_HTTP_PORT:-80} && printf 'GET /healthz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["/usr/local/bin/autopxe"]
CMD ["serve", "--config", "/config.yaml"]
