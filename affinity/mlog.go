package affinity

import (
	"bytes"
	"context"
	"io"
	"log"
	"log/slog"
)

// memberlistLogger returns a *log.Logger for memberlist that sends each
// line to logger at the level memberlist gave it ("[WARN] memberlist: ...").
func memberlistLogger(logger *slog.Logger) *log.Logger {
	return log.New(slogWriter{logger}, "", 0)
}

type slogWriter struct{ l *slog.Logger }

var _ io.Writer = slogWriter{}

var levelPrefixes = []struct {
	prefix []byte
	level  slog.Level
}{
	{[]byte("[DEBUG]"), slog.LevelDebug},
	{[]byte("[INFO]"), slog.LevelInfo},
	{[]byte("[WARN]"), slog.LevelWarn},
	{[]byte("[ERR]"), slog.LevelError},
	{[]byte("[ERROR]"), slog.LevelError},
}

func (w slogWriter) Write(p []byte) (int, error) {
	line := bytes.TrimSpace(p)
	level := slog.LevelInfo
	for _, lp := range levelPrefixes {
		if bytes.HasPrefix(line, lp.prefix) {
			level = lp.level
			line = bytes.TrimSpace(line[len(lp.prefix):])
			break
		}
	}
	line = bytes.TrimPrefix(line, []byte("memberlist: "))
	w.l.Log(context.Background(), level, "affinity: memberlist: "+string(line))
	return len(p), nil
}
