package cluster

import (
	"fmt"
	"io"
	"log"
	"strings"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// hclogAdapter routes hashicorp/raft's hclog output into zap, keeping the
// key/value pairs as zap fields.
type hclogAdapter struct {
	z    *zap.Logger
	name string
	args []interface{}
}

// newHclog returns an hclog.Logger writing to z.
func newHclog(z *zap.Logger) hclog.Logger {
	return &hclogAdapter{z: z.WithOptions(zap.AddCallerSkip(1))}
}

func (h *hclogAdapter) fields(args []interface{}) []zap.Field {
	all := append(append([]interface{}{}, h.args...), args...)
	fields := make([]zap.Field, 0, len(all)/2+1)
	for i := 0; i < len(all); i += 2 {
		key := fmt.Sprint(all[i])
		if i+1 >= len(all) {
			fields = append(fields, zap.Any("extra", all[i]))
			break
		}
		if err, ok := all[i+1].(error); ok {
			fields = append(fields, zap.NamedError(key, err))
			continue
		}
		fields = append(fields, zap.Any(key, all[i+1]))
	}
	return fields
}

func (h *hclogAdapter) Log(level hclog.Level, msg string, args ...interface{}) {
	switch level {
	case hclog.Trace, hclog.Debug:
		h.Debug(msg, args...)
	case hclog.Warn:
		h.Warn(msg, args...)
	case hclog.Error:
		h.Error(msg, args...)
	default:
		h.Info(msg, args...)
	}
}

func (h *hclogAdapter) Trace(msg string, args ...interface{}) {
	if ce := h.z.Check(zapcore.DebugLevel, msg); ce != nil {
		ce.Write(h.fields(args)...)
	}
}
func (h *hclogAdapter) Debug(msg string, args ...interface{}) {
	if ce := h.z.Check(zapcore.DebugLevel, msg); ce != nil {
		ce.Write(h.fields(args)...)
	}
}
func (h *hclogAdapter) Info(msg string, args ...interface{}) { h.z.Info(msg, h.fields(args)...) }
func (h *hclogAdapter) Warn(msg string, args ...interface{}) { h.z.Warn(msg, h.fields(args)...) }
func (h *hclogAdapter) Error(msg string, args ...interface{}) {
	h.z.Error(msg, h.fields(args)...)
}

func (h *hclogAdapter) IsTrace() bool { return false }
func (h *hclogAdapter) IsDebug() bool { return h.z.Core().Enabled(zapcore.DebugLevel) }
func (h *hclogAdapter) IsInfo() bool  { return h.z.Core().Enabled(zapcore.InfoLevel) }
func (h *hclogAdapter) IsWarn() bool  { return h.z.Core().Enabled(zapcore.WarnLevel) }
func (h *hclogAdapter) IsError() bool { return h.z.Core().Enabled(zapcore.ErrorLevel) }

func (h *hclogAdapter) ImpliedArgs() []interface{} { return h.args }

func (h *hclogAdapter) With(args ...interface{}) hclog.Logger {
	return &hclogAdapter{z: h.z, name: h.name, args: append(append([]interface{}{}, h.args...), args...)}
}

func (h *hclogAdapter) Name() string { return h.name }

func (h *hclogAdapter) Named(name string) hclog.Logger {
	full := name
	if h.name != "" {
		full = h.name + "." + name
	}
	return &hclogAdapter{z: h.z.Named(name), name: full, args: h.args}
}

func (h *hclogAdapter) ResetNamed(name string) hclog.Logger {
	return &hclogAdapter{z: h.z.Named(name), name: name, args: h.args}
}

// SetLevel is a no-op: the zap logger's level decides.
func (h *hclogAdapter) SetLevel(hclog.Level) {}

func (h *hclogAdapter) GetLevel() hclog.Level {
	switch {
	case h.IsDebug():
		return hclog.Debug
	case h.IsInfo():
		return hclog.Info
	case h.IsWarn():
		return hclog.Warn
	}
	return hclog.Error
}

func (h *hclogAdapter) StandardLogger(*hclog.StandardLoggerOptions) *log.Logger {
	return log.New(h.StandardWriter(nil), "", 0)
}

func (h *hclogAdapter) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		h.z.Info(strings.TrimSpace(string(p)))
		return len(p), nil
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
