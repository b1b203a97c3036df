# SPDX-License-Identifier: MIT
# shawk agent image. Build (from the repository root):
#   docker build --network=host -t shawk:dev .
# The runtime stage holds only shawk, the shared libraries it links and CA
# certificates: no shell, no package manager (see scripts/rootfs-libs.sh);
# plus Graphviz's neato plugin, which `shawk serve` loads for large maps.
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BASE_IMAGE} AS build
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends \
        gcc make pkg-config clang llvm bpftool libc6-dev \
        libbpf-dev libelf-dev zlib1g-dev libpq-dev libcurl4-openssl-dev \
        libcjson-dev libmicrohttpd-dev libgraphviz-dev libmnl-dev ca-certificates >/dev/null \
    && rm -rf /var/lib/apt/lists/*
ARG VERSION=0.1.0
WORKDIR /src
COPY . .
RUN make clean && make -j"$(nproc)" VERSION="${VERSION}" \
    && strip build/shawk \
    && scripts/rootfs-libs.sh build/shawk /rootfs \
    && gvp="$(pkg-config --variable=libdir libgvc)/graphviz/libgvplugin_neato_layout.so.6" \
    && scripts/rootfs-libs.sh "$gvp" /rootfs \
    && install -D -m 0644 "$(readlink -f "$gvp")" "/rootfs$gvp" \
    && install -D -m 0755 build/shawk /rootfs/usr/local/bin/shawk \
    && /rootfs/usr/local/bin/shawk --version

FROM scratch
COPY --from=build /rootfs/ /
ENV PATH=/usr/local/bin \
    SHAWK_HOST_PROC=/host/proc \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
ENTRYPOINT ["shawk"]
CMD ["probe"]
