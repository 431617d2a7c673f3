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

// TestNodeCommandErrors pins the texts built from arguments for the
// node's own commands (recorded from redis-server 7.2 where Redis has
// them): arguments quoted in '...' are cut to 128 bytes with CR and LF
// as spaces.
func TestNodeCommandErrors(t *testing.T) {
	long := strings.Repeat("x", 200)
	for _, tt := range []struct {
		got  *Error
		want string
	}{
		{ErrUnrecognizedOption([]byte("lib-nam")), "ERR Unrecognized option 'lib-nam'"},
		{ErrUnrecognizedOption([]byte("a\r\nb")), "ERR Unrecognized option 'a  b'"},
		{ErrUnknownClientType([]byte(long)), "ERR Unknown client type '" + long[:128] + "'"},
		{ErrNoSuchUser([]byte("bob")), "ERR No such user 'bob'"},
		{ErrHelloOption([]byte("FOO")), "ERR Syntax error in HELLO option 'FOO'"},
		{ErrInvalidBasePort([]byte("x")), "ERR Invalid TCP base port specified: x"},
		{ErrInvalidBusPort([]byte("y")), "ERR Invalid TCP bus port specified: y"},
		{ErrInvalidNodeAddress("10.0.0.1", []byte("70000")), "ERR Invalid node address specified: 10.0.0.1:70000"},
		{ErrUnknownNode("abc"), "ERR Unknown node abc"},
		{ErrConfigSetUnknown([]byte("nosuch")), "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"},
		{ErrConfigSetFailed([]byte("maxmemory\n"), "argument must be a memory value"),
			"ERR CONFIG SET failed (possibly related to argument 'maxmemory ') - argument must be a memory value"},
		{ErrConfigRewrite(errors.New("disk full")), "ERR Rewriting config file: disk full"},
		{ErrWriteOnReadPath([]byte("SET")), "ERR write command set sent to the read path"},
		{ErrUnexpectedReply("raftcache.scan"), "ERR unexpected raftcache.scan reply"},
		{ErrUnknownSubcommand([]byte("debug"), []byte("nope")), "ERR unknown subcommand 'nope'. Try DEBUG HELP."},
	} {
		if tt.got.Error() != tt.want {
			t.Errorf("got %q\nwant %q", tt.got.Error(), tt.want)
		}
	}
}
