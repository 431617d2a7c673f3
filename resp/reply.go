package resp

// Kind is the type of a Reply. Each kind has one RESP3 type; in RESP2 the
// kinds that RESP2 lacks are folded into the nearest RESP2 type the way
// Redis 7.2 folds them.
type Kind uint8

const (
	// KindNull is a missing value: RESP2 "$-1", RESP3 "_".
	KindNull Kind = iota
	// KindNullArray is a missing aggregate: RESP2 "*-1", RESP3 "_".
	KindNullArray
	// KindSimple is a status line such as OK: "+".
	KindSimple
	// KindError is an error line: "-". Str holds the text, code first.
	KindError
	// KindInt is an integer: ":".
	KindInt
	// KindBulk is a binary-safe string: "$".
	KindBulk
	// KindArray is an ordered aggregate of Elems: "*".
	KindArray
	// KindMap holds Elems as alternating keys and values: RESP3 "%",
	// RESP2 a flat array.
	KindMap
	// KindSet is an unordered aggregate: RESP3 "~", RESP2 an array.
	KindSet
	// KindDouble is a floating point number: RESP3 ",", RESP2 a bulk string.
	KindDouble
	// KindBool is a boolean in Int (0 or 1): RESP3 "#", RESP2 an integer.
	KindBool
	// KindVerbatim is text with a format (INFO uses it): RESP3 "=" with the
	// "txt:" prefix, RESP2 a bulk string.
	KindVerbatim
)

// Reply is one typed reply value. A Reply may alias byte slices owned by the
// store; the store never changes bytes it has handed out (see store's
// DESIGN.md), so a Reply stays valid after the store's lock is released.
type Reply struct {
	Kind  Kind
	Int   int64
	Float float64
	Str   []byte
	Elems []Reply
}

// Frequently used replies, shared and never modified.
var (
	OK       = Reply{Kind: KindSimple, Str: []byte("OK")}
	Queued   = Reply{Kind: KindSimple, Str: []byte("QUEUED")}
	Pong     = Reply{Kind: KindSimple, Str: []byte("PONG")}
	Null     = Reply{Kind: KindNull}
	NullArr  = Reply{Kind: KindNullArray}
	Zero     = Reply{Kind: KindInt, Int: 0}
	One      = Reply{Kind: KindInt, Int: 1}
	EmptyArr = Reply{Kind: KindArray, Elems: []Reply{}}
)

// Int returns an integer reply.
func Int(n int64) Reply { return Reply{Kind: KindInt, Int: n} }

// Bool returns a boolean reply (RESP2: integer 1 or 0).
func Bool(b bool) Reply {
	if b {
		return Reply{Kind: KindBool, Int: 1}
	}
	return Reply{Kind: KindBool}
}

// IntBool returns integer 1 or 0, the way most Redis commands answer yes/no
// in both protocols.
func IntBool(b bool) Reply {
	if b {
		return One
	}
	return Zero
}

// Bulk returns a bulk string reply aliasing b. A nil b is an empty string,
// not a null; use Null for a missing value.
func Bulk(b []byte) Reply {
	if b == nil {
		b = []byte{}
	}
	return Reply{Kind: KindBulk, Str: b}
}

// BulkString returns a bulk string reply holding s.
func BulkString(s string) Reply { return Reply{Kind: KindBulk, Str: []byte(s)} }

// Simple returns a status reply such as "+OK".
func Simple(s string) Reply { return Reply{Kind: KindSimple, Str: []byte(s)} }

// Double returns a double reply.
func Double(f float64) Reply { return Reply{Kind: KindDouble, Float: f} }

// Verbatim returns a verbatim text reply (format "txt").
func Verbatim(s string) Reply { return Reply{Kind: KindVerbatim, Str: []byte(s)} }

// Array returns an array reply of elems.
func Array(elems ...Reply) Reply {
	if elems == nil {
		elems = []Reply{}
	}
	return Reply{Kind: KindArray, Elems: elems}
}

// Map returns a map reply; kv alternates keys and values.
func Map(kv ...Reply) Reply {
	if kv == nil {
		kv = []Reply{}
	}
	return Reply{Kind: KindMap, Elems: kv}
}

// Set returns a set reply of elems (RESP2: an array).
func Set(elems ...Reply) Reply {
	if elems == nil {
		elems = []Reply{}
	}
	return Reply{Kind: KindSet, Elems: elems}
}

// BulkArray returns an array of bulk strings aliasing items.
func BulkArray(items [][]byte) Reply {
	elems := make([]Reply, len(items))
	for i, it := range items {
		elems[i] = Bulk(it)
	}
	return Reply{Kind: KindArray, Elems: elems}
}

// IsError reports whether r is an error reply.
func (r Reply) IsError() bool { return r.Kind == KindError }

// String returns the reply's text for simple, error, bulk and verbatim
// replies; it is meant for tests and logs.
func (r Reply) String() string { return string(r.Str) }
