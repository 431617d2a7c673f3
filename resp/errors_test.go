package resp

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// The expected texts were recorded from redis-server.
func TestErrUnknownCommand(t *testing.T) {
	a100, b100 := strings.Repeat("a", 100), strings.Repeat("b", 100)
	n200 := strings.Repeat("n", 200)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"foo"}, "ERR unknown command 'foo', with args beginning with: "},
		{[]string{"foo", "a", "b"}, "ERR unknown command 'foo', with args beginning with: 'a' 'b' "},
		{[]string{"FOO", "x"}, "ERR unknown command 'FOO', with args beginning with: 'x' "},
		{[]string{"foo", ""}, "ERR unknown command 'foo', with args beginning with: '' "},
		// Arguments are quoted while fewer than 128 bytes are written, each
		// cut to what is left.
		{[]string{"foo", a100, b100, "c"},
			"ERR unknown command 'foo', with args beginning with: '" + a100 + "' '" + b100[:25] + "' "},
		{[]string{n200, "z"}, "ERR unknown command '" + n200[:128] + "', with args beginning with: 'z' "},
		{[]string{"foo", "a\r\nb", "c\nd"}, "ERR unknown command 'foo', with args beginning with: 'a  b' 'c d' "},
		// C's "%s" stops at a NUL.
		{[]string{"foo", "a\x00b", "c"}, "ERR unknown command 'foo', with args beginning with: 'a' 'c' "},
		{[]string{"fo\x00o", "x"}, "ERR unknown command 'fo', with args beginning with: 'x' "},
	}
	for _, tt := range tests {
		if got := ErrUnknownCommand(args(tt.args...)).Error(); got != tt.want {
			t.Errorf("ErrUnknownCommand(%.40q)\n got %q\nwant %q", tt.args, got, tt.want)
		}
	}
}

func TestErrUnknownSubcommand(t *testing.T) {
	tests := []struct {
		container, sub, want string
	}{
		{"client", "nosuch", "ERR unknown subcommand 'nosuch'. Try CLIENT HELP."},
		{"Config", "x\ny", "ERR unknown subcommand 'x y'. Try CONFIG HELP."},
		{"client", strings.Repeat("x", 200), "ERR unknown subcommand '" + strings.Repeat("x", 128) + "'. Try CLIENT HELP."},
	}
	for _, tt := range tests {
		if got := ErrUnknownSubcommand([]byte(tt.container), []byte(tt.sub)).Error(); got != tt.want {
			t.Errorf("ErrUnknownSubcommand(%q, %.20q) = %q, want %q", tt.container, tt.sub, got, tt.want)
		}
	}
}

func TestArityErrors(t *testing.T) {
	if got := ErrWrongArgs("GET").Error(); got != "ERR wrong number of arguments for 'get' command" {
		t.Errorf("ErrWrongArgs = %q", got)
	}
	if got := ErrWrongSubArgs("CLIENT", "SETNAME").Error(); got != "ERR wrong number of arguments for 'client|setname' command" {
		t.Errorf("ErrWrongSubArgs = %q", got)
	}
}

func TestErrorReply(t *testing.T) {
	if r := ErrorReply(fmt.Errorf("apply: %w", ErrWrongType)); r.String() != ErrWrongType.Error() || !r.IsError() {
		t.Errorf("wrapped *Error: %q", r.Str)
	}
	if r := ErrorReply(errors.New("disk\r\nfull")); r.String() != "ERR disk  full" {
		t.Errorf("plain error: %q", r.Str)
	}
	if c := ErrWrongType.Code(); c != "WRONGTYPE" {
		t.Errorf("Code = %q", c)
	}
	if c := NewError("NOAUTH").Code(); c != "NOAUTH" {
		t.Errorf("Code of a one-word error = %q", c)
	}
}
