package client

//go:generate go tool oapi-codegen -config oapi-codegen.yaml ../openapi-3.0.yaml
