# syntax=docker/dockerfile:1
# Multi-stage build of the static gateway binary (pure Go: CGO_ENABLED=0, SQLite via modernc).
# Go 1.27.3, as go.mod's toolchain line asks: 1.26.8's standard library has reachable vulnerabilities.
FROM golang:1.27.3-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/ ./cmd/gateway ./cmd/hub

# distroless/static: CA certificates and tzdata, no shell, runs as uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
# Both binaries: the gateway (default) and the hub (entrypoint /usr/local/bin/hub).
COPY --from=build /out/gateway /out/hub /usr/local/bin/
WORKDIR /var/lib/gateway
ENV SESSIONS_PATH=/var/lib/gateway/sessions PORT=3001
EXPOSE 3001
USER nonroot:nonroot
# No shell in the image: `gateway healthcheck` probes GET /health on PORT.
HEALTHCHECK --interval=30s --timeout=5s CMD ["/usr/local/bin/gateway", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/gateway"]
CMD ["serve"]
