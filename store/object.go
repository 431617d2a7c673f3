package store

import (
	"math"
	"sync/atomic"

	"github.com/raftcache/raftcache/resp"
)

func init() {
	register("object", cmdObject)
}

// encoding is the internal representation Redis would use for a value,
// which OBJECT ENCODING and OBJECT REFCOUNT report. raftcache stores every
// string as bytes and every hash as a map; it only tracks the encoding by
// Redis's rules, so that the introspection commands answer as Redis does.
type encoding uint8

const (
	// encEmbstr is a string of at most 44 bytes that is not an integer.
	encEmbstr encoding = iota
	// encRaw is a longer string, or one that APPEND or SETRANGE changed.
	encRaw
	// encInt is a string holding a canonical integer in int64 range.
	encInt
	// encIntShared is an encInt value in [0, 10000): Redis then stores a
	// shared integer object, whose refcount is INT_MAX.
	encIntShared
	// encListpack is a small hash (hash-max-listpack-entries and
	// hash-max-listpack-value below).
	encListpack
	// encHashtable is a hash that outgrew the listpack; Redis never
	// converts it back.
	encHashtable
	numEncodings
)

// Redis's limits for the encodings, with the values of the redis.conf that
// Redis 7.2 ships (its compiled-in hash-max-listpack-entries is 512).
const (
	embstrMaxLen         = 44
	sharedIntegers       = 10000
	hashMaxListpackEntry = 128
	hashMaxListpackValue = 64
	sharedRefcount       = math.MaxInt32
	maxIntEncodedLen     = 20
)

var encodingNames = [numEncodings]string{
	encEmbstr: "embstr", encRaw: "raw", encInt: "int", encIntShared: "int",
	encListpack: "listpack", encHashtable: "hashtable",
}

func (c encoding) isHash() bool { return c == encListpack || c == encHashtable }

// strEncoding is the encoding Redis's tryObjectEncoding gives a string
// value that a command stores as it came (SET, MSET, GETSET, ...): an
// integer when the text is a canonical int64 of at most 20 bytes, a shared
// one below 10000, else embstr up to 44 bytes and raw beyond.
func strEncoding(v []byte) encoding {
	if len(v) <= maxIntEncodedLen {
		if n, ok := resp.ParseInt(v); ok {
			return intEncoding(n)
		}
	}
	return plainEncoding(v)
}

// plainEncoding is the encoding of a string Redis creates without trying
// the integer encoding (INCRBYFLOAT's result).
func plainEncoding(v []byte) encoding {
	if len(v) <= embstrMaxLen {
		return encEmbstr
	}
	return encRaw
}

// intEncoding is the encoding of an integer result (INCR and friends).
func intEncoding(n int64) encoding {
	if n >= 0 && n < sharedIntegers {
		return encIntShared
	}
	return encInt
}

// validEncoding reports whether enc could have been produced for the
// string value v (str) or for a hash whose fields are given (n fields, the
// longest field or value maxLen bytes), so that Restore can refuse what
// WriteTo never writes.
func validEncoding(enc encoding, v []byte, isHash bool, n, maxLen int) bool {
	switch enc {
	case encEmbstr:
		return !isHash && len(v) <= embstrMaxLen
	case encRaw:
		return !isHash
	case encInt, encIntShared:
		if isHash || len(v) > maxIntEncodedLen {
			return false
		}
		i, ok := resp.ParseInt(v)
		// COPY turns a shared integer into an unshared one, so encInt
		// may hold any integer; encIntShared only a shared one.
		return ok && (enc == encInt || intEncoding(i) == encIntShared)
	case encListpack:
		return isHash && n <= hashMaxListpackEntry && maxLen <= hashMaxListpackValue
	case encHashtable:
		return isHash
	}
	return false
}

// objectHelp is Redis 7's OBJECT HELP text, one status line each.
var objectHelp = []string{
	"OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"ENCODING <key>",
	"    Return the kind of internal representation used in order to store the value",
	"    associated with a <key>.",
	"FREQ <key>",
	"    Return the access frequency index of the <key>. The returned integer is",
	"    proportional to the logarithm of the recent access frequency of the key.",
	"IDLETIME <key>",
	"    Return the idle time of the <key>, that is the approximated number of",
	"    seconds elapsed since the last access to the key.",
	"REFCOUNT <key>",
	"    Return the number of references of the value associated with the specified",
	"    <key>.",
	"HELP",
	"    Prints this help.",
}

// cmdObject serves OBJECT ENCODING, FREQ, IDLETIME, REFCOUNT and HELP.
// FREQ and IDLETIME come from this replica's access data (evict.go): the
// leader's, which serves the reads, counts them; as in Redis, FREQ needs an
// LFU policy and IDLETIME any other.
func cmdObject(x exec, a [][]byte) resp.Reply {
	if len(a) < 2 {
		return resp.ErrWrongArgs("object").Reply()
	}
	sub := a[1]
	arity := 3
	switch {
	case resp.EqualFold(sub, "help"):
		arity = 2
	case resp.EqualFold(sub, "encoding"), resp.EqualFold(sub, "freq"),
		resp.EqualFold(sub, "idletime"), resp.EqualFold(sub, "refcount"):
	default:
		return resp.ErrUnknownSubcommand(a[0], sub).Reply()
	}
	if len(a) != arity {
		return resp.ErrWrongSubArgs("object", string(sub)).Reply()
	}
	if arity == 2 {
		elems := make([]resp.Reply, len(objectHelp))
		for i, line := range objectHelp {
			elems[i] = resp.Simple(line)
		}
		return resp.Array(elems...)
	}
	o, ok := x.lookup(a[2])
	if !ok {
		return resp.Null
	}
	switch {
	case resp.EqualFold(sub, "encoding"):
		return resp.BulkString(encodingNames[o.enc])
	case resp.EqualFold(sub, "freq"):
		p := x.s.accessParams()
		if !p.Policy.LFU() {
			return resp.ErrLFUNotSelected.Reply()
		}
		return resp.Int(int64(decayed(atomic.LoadUint32(accessWord(o.rec)), x.now, p)))
	case resp.EqualFold(sub, "idletime"):
		if x.s.accessParams().Policy.LFU() {
			return resp.ErrLFUSelected.Reply()
		}
		return resp.Int(idleSeconds(atomic.LoadUint32(accessWord(o.rec)), x.now))
	default:
		if o.enc == encIntShared {
			return resp.Int(sharedRefcount)
		}
		return resp.One
	}
}
