package resp

import "strings"

// ErrInvalidExpireTime returns Redis's error for an expire time that is not
// positive or overflows, naming the command ("set", "expire", ...).
func ErrInvalidExpireTime(cmd string) *Error {
	return NewError("ERR invalid expire time in '" + strings.ToLower(cmd) + "' command")
}

// ErrUnsupportedOption returns Redis's error for an unknown EXPIRE option.
func ErrUnsupportedOption(opt []byte) *Error {
	return NewError("ERR Unsupported option " + sanitize(opt, 128))
}

// Errors of the EXPIRE family's NX/XX/GT/LT options.
var (
	ErrExpireNXCombined = NewError("ERR NX and XX, GT or LT options at the same time are not compatible")
	ErrExpireGTLT       = NewError("ERR GT and LT options at the same time are not compatible")
)
