package acl

import (
	"encoding/binary"
	"errors"

	"github.com/raftcache/raftcache/resp"
)

// codecVersion leads every encoded snapshot and operation, so a newer
// node can roll out beside an older one: a node refuses a version it does
// not know rather than misread it.
const codecVersion = 1

// ErrCodec is an encoded snapshot or operation this node cannot read.
var ErrCodec = errors.New("acl: undecodable ACL snapshot or operation")

// MarshalBinary encodes the whole set for a Raft snapshot (or to
// replicate the set as one value): the version byte, then the aclfile
// text (Save). Deterministic: equal sets give equal bytes on every node.
func (us *Users) MarshalBinary() ([]byte, error) {
	return append([]byte{codecVersion}, us.Save()...), nil
}

// Restore replaces the set with one MarshalBinary encoded. It fails
// (ErrCodec, or a *LoadError) without changing anything.
func (us *Users) Restore(data []byte) error {
	if len(data) == 0 || data[0] != codecVersion {
		return ErrCodec
	}
	return us.Load("snapshot", data[1:])
}

// OpKind is what a replicated ACL operation does.
type OpKind uint8

// The replicated ACL operations.
const (
	// OpSetUser: Args[0] the user name, the rest its rules (ACL SETUSER,
	// and requirepass: see RequirePassOp).
	OpSetUser OpKind = 1 + iota
	// OpDelUser: Args the names (ACL DELUSER).
	OpDelUser
	// OpLoad: Args[0] the aclfile's name, Args[1] its bytes as the node
	// that ran ACL LOAD read them.
	OpLoad
)

// Op is one change to the ACL set, as a Raft log entry carries it. Every
// node applies the same ops in the same order with Apply and gets the
// same set. Build ops with PrepareSetUser, RequirePassOp, DelUserOp and
// LoadOp, so that no plaintext password enters the log.
type Op struct {
	Kind OpKind
	Args [][]byte
}

// PrepareSetUser checks an ACL SETUSER against the current set on the
// node that received it and returns the op to replicate, or the error to
// answer at once (as SetUser would). The op has each >password and
// <password replaced by #hash and !hash: the same effect, without the
// plaintext. Applying the op may still fail if another op changed the
// user in between (a removed password); Apply then returns the error.
func (us *Users) PrepareSetUser(name []byte, rules [][]byte) (Op, error) {
	if hasSpace(name) {
		return Op{}, ErrUsernameSpaces
	}
	if _, err := buildUser(us.User(string(name)), string(name), rules); err != nil {
		return Op{}, err
	}
	args := make([][]byte, 0, len(rules)+1)
	args = append(args, append([]byte(nil), name...))
	for _, r := range rules {
		switch {
		case len(r) > 0 && r[0] == '>':
			r = []byte("#" + hashPassword(r[1:]))
		case len(r) > 0 && r[0] == '<':
			r = []byte("!" + hashPassword(r[1:]))
		default:
			r = append([]byte(nil), r...)
		}
		args = append(args, r)
	}
	return Op{Kind: OpSetUser, Args: args}, nil
}

// RequirePassOp is the op for requirepass (CONFIG SET requirepass): the
// default user's passwords replaced by this one, or nopass when empty.
func RequirePassOp(password []byte) Op {
	last := []byte("nopass")
	if len(password) > 0 {
		last = []byte("#" + hashPassword(password))
	}
	return Op{Kind: OpSetUser, Args: [][]byte{[]byte(DefaultUser), []byte("resetpass"), last}}
}

// DelUserOp is the op for ACL DELUSER.
func DelUserOp(names [][]byte) Op { return Op{Kind: OpDelUser, Args: names} }

// LoadOp is the op for ACL LOAD of data, read from the file filename on
// the node that ran it.
func LoadOp(filename string, data []byte) Op {
	return Op{Kind: OpLoad, Args: [][]byte{[]byte(filename), data}}
}

// Apply applies a replicated op and returns the client's reply: OK, the
// number of users deleted, or the error Redis gives. Business errors are
// replies, not failures: every node gets the same one.
func (us *Users) Apply(op Op) resp.Reply {
	switch op.Kind {
	case OpSetUser:
		if len(op.Args) == 0 {
			break
		}
		if err := us.SetUser(op.Args[0], op.Args[1:]); err != nil {
			return errorReply(err)
		}
		return resp.OK
	case OpDelUser:
		n, err := us.DelUser(op.Args...)
		if err != nil {
			return errorReply(err)
		}
		return resp.Int(int64(n))
	case OpLoad:
		if len(op.Args) != 2 {
			break
		}
		if err := us.Load(string(op.Args[0]), op.Args[1]); err != nil {
			return errorReply(err)
		}
		return resp.OK
	}
	return resp.ErrorReply(ErrCodec)
}

// errorReply turns an error of this package into Redis's reply.
func errorReply(err error) resp.Reply {
	switch e := err.(type) {
	case *RuleError:
		return e.Err().Reply()
	case *ParenError:
		return e.Err().Reply()
	case *LoadError:
		return e.Err().Reply()
	}
	return resp.ErrorReply(err)
}

// ErrorReply returns the reply Redis sends for an error of SetUser,
// DelUser, Load, Cat or GenPass.
func ErrorReply(err error) resp.Reply { return errorReply(err) }

// Encode returns the op as a log entry's bytes: the version byte, the
// kind, the argument count and each argument's length (uvarints) and
// bytes.
func (o Op) Encode() []byte {
	b := []byte{codecVersion, byte(o.Kind)}
	b = binary.AppendUvarint(b, uint64(len(o.Args)))
	for _, a := range o.Args {
		b = binary.AppendUvarint(b, uint64(len(a)))
		b = append(b, a...)
	}
	return b
}

// DecodeOp reads an op Encode wrote; the arguments are copies. Anything
// else is ErrCodec.
func DecodeOp(b []byte) (Op, error) {
	if len(b) < 2 || b[0] != codecVersion || b[1] < byte(OpSetUser) || b[1] > byte(OpLoad) {
		return Op{}, ErrCodec
	}
	op := Op{Kind: OpKind(b[1])}
	b = b[2:]
	n, k := uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return Op{}, ErrCodec
	}
	b = b[k:]
	op.Args = make([][]byte, 0, n)
	for i := uint64(0); i < n; i++ {
		l, k := uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return Op{}, ErrCodec
		}
		op.Args = append(op.Args, append([]byte{}, b[k:k+int(l)]...))
		b = b[k+int(l):]
	}
	if len(b) != 0 {
		return Op{}, ErrCodec
	}
	return op, nil
}

// uvarint reads a uvarint in its shortest form only, so that an op has
// one encoding; k <= 0 for anything else.
func uvarint(b []byte) (uint64, int) {
	n, k := binary.Uvarint(b)
	if k > 0 && k != len(binary.AppendUvarint(nil, n)) {
		return 0, -1
	}
	return n, k
}
