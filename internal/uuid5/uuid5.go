// Package uuid5 computes name-based SHA-1 UUIDs (RFC 9562 version 5) without allocating.
package uuid5 // import "github.com/experimentationexporter/experimentationexporter/internal/uuid5"

import "crypto/sha1" //nolint:gosec // UUIDv5 is defined over SHA-1

// NamespaceURL is the RFC 9562 namespace for URLs.
var NamespaceURL = [16]byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}

// Sum is the version 5 UUID of name in namespace ns.
func Sum(ns [16]byte, name []byte) [16]byte {
	h := sha1.New() //nolint:gosec
	h.Write(ns[:])
	h.Write(name)
	var sum [20]byte
	h.Sum(sum[:0])
	var u [16]byte
	copy(u[:], sum[:16])
	u[6] = (u[6] & 0x0f) | 0x50
	u[8] = (u[8] & 0x3f) | 0x80
	return u
}
