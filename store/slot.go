package store

// NumSlots is the number of hash slots of the Redis Cluster specification.
const NumSlots = 16384

// crc16tab is the CRC16/XMODEM table (polynomial 0x1021) that the Redis
// Cluster specification uses for key hashing.
var crc16tab = func() [256]uint16 {
	var t [256]uint16
	for i := range t {
		c := uint16(i) << 8
		for j := 0; j < 8; j++ {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// CRC16 returns the CRC16/XMODEM checksum of b.
func CRC16(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		crc = crc<<8 ^ crc16tab[byte(crc>>8)^c]
	}
	return crc
}

// SlotOf returns the hash slot of key: CRC16 of the key, or of the text
// between the first '{' and the next '}' when that text is not empty, mod
// 16384, exactly as the Redis Cluster specification defines it.
func SlotOf(key []byte) int {
	for i, c := range key {
		if c != '{' {
			continue
		}
		for j := i + 1; j < len(key); j++ {
			if key[j] == '}' {
				if j > i+1 {
					key = key[i+1 : j]
				}
				return int(CRC16(key) & (NumSlots - 1))
			}
		}
		break
	}
	return int(CRC16(key) & (NumSlots - 1))
}
