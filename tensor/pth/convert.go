package pth

import (
	"encoding/binary"
	"math"
)

// decodeFloats converts little-endian elements of dtype d (F32, F16, BF16
// or F64) to float32: F32 bit for bit, F16 and BF16 exactly, F64 rounded to
// nearest.
func decodeFloats(dst []float32, b []byte, d Dtype) {
	switch d {
	case F32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case F16:
		for i := range dst {
			dst[i] = halfToFloat32(binary.LittleEndian.Uint16(b[2*i:]))
		}
	case BF16:
		for i := range dst {
			dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
		}
	case F64:
		for i := range dst {
			dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
		}
	}
}

// decodeInts converts little-endian elements of integer dtype d to int64.
func decodeInts(dst []int64, b []byte, d Dtype) {
	for i := range dst {
		switch d {
		case I64:
			dst[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
		case I32:
			dst[i] = int64(int32(binary.LittleEndian.Uint32(b[4*i:])))
		case I16:
			dst[i] = int64(int16(binary.LittleEndian.Uint16(b[2*i:])))
		case I8:
			dst[i] = int64(int8(b[i]))
		case U8:
			dst[i] = int64(b[i])
		case BOOL:
			if b[i] != 0 {
				dst[i] = 1
			} else {
				dst[i] = 0
			}
		}
	}
}

// halfToFloat32 converts an IEEE 754 binary16 value to float32, exactly
// (NaN payloads kept).
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch exp {
	case 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case 0: // zero or subnormal: mant * 2^-24, exact in float32
		v := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
}

// float32ToHalf rounds f to the nearest binary16 value, ties to even, as
// PyTorch's .half() does; values beyond its range become ±Inf. A value that
// halfToFloat32 produced converts back to the same bits (NaNs included).
func float32ToHalf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff { // Inf or NaN
		if mant == 0 {
			return sign | 0x7c00
		}
		m := uint16(mant >> 13)
		if m == 0 {
			m = 0x200 // a NaN whose payload is in the low bits stays a NaN
		}
		return sign | 0x7c00 | m
	}
	e := exp - 127 + 15
	switch {
	case e >= 0x1f:
		return sign | 0x7c00
	case e <= 0: // subnormal or zero
		if e < -10 {
			return sign
		}
		m := mant | 0x800000
		shift := uint32(14 - e)
		r := m >> shift
		rem, half := m&(1<<shift-1), uint32(1)<<(shift-1)
		if rem > half || (rem == half && r&1 == 1) {
			r++
		}
		return sign | uint16(r)
	}
	r := uint32(e)<<10 | mant>>13
	if rem := mant & 0x1fff; rem > 0x1000 || (rem == 0x1000 && r&1 == 1) {
		r++ // may carry into the exponent, up to Inf, as it should
	}
	return sign | uint16(r)
}

// float32ToBF16 rounds f to the nearest bfloat16 value, ties to even, as
// PyTorch does; a value that is already a bfloat16 (low 16 bits zero, NaNs
// included) keeps its bits, and other NaNs become quiet NaNs.
func float32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0xffff == 0 {
		return uint16(b >> 16)
	}
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}
