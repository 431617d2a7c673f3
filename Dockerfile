# syntax=docker/dockerfile:1
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/raftcache ./cmd/raftcache \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/raftcache /usr/local/bin/raftcache
# Owned by the nonroot user (65532), so that a new named volume, which
# takes the ownership of the image's directory, is writable.
COPY --from=build --chown=65532:65532 /out/data /data
WORKDIR /data
VOLUME ["/data"]
# Clients, the cluster (Raft) port, metrics and readiness (--metrics-addr).
EXPOSE 6379 16379 9121
USER nonroot:nonroot
# Protected mode would refuse clients arriving through the port mapping;
# set --requirepass in production, as with the official Redis image.
ENTRYPOINT ["/usr/local/bin/raftcache", "--dir", "/data", "--protected-mode", "no"]
