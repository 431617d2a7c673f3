# syntax=docker/dockerfile:1
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/raftcache ./cmd/raftcache

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/raftcache /usr/local/bin/raftcache
WORKDIR /data
VOLUME ["/data"]
EXPOSE 6379 16379
USER nonroot:nonroot
# Protected mode would refuse clients arriving through the port mapping;
# set --requirepass in production, as with the official Redis image.
ENTRYPOINT ["/usr/local/bin/raftcache", "--dir", "/data", "--protected-mode", "no"]
