package attacks

// Reseeder is implemented by attacks with random choices: WithSeed returns
// the attack with its seed replaced. The trainers give every training batch
// its own seed, IndexSeed(trainer seed, batch number), so that random
// starts differ between batches and between epochs (an attack's random
// stream otherwise depends only on its seed and the image's pixels, and an
// image would get the same start in every epoch).
type Reseeder interface {
	Attack
	WithSeed(seed uint64) Attack
}

// WithSeed implements Reseeder.
func (a PGD) WithSeed(seed uint64) Attack { a.Seed = seed; return a }

// WithSeed implements Reseeder.
func (a APGD) WithSeed(seed uint64) Attack { a.Seed = seed; return a }

// WithSeed implements Reseeder.
func (a APGDT) WithSeed(seed uint64) Attack { a.Seed = seed; return a }

// WithSeed implements Reseeder, reseeding the wrapped attack if it has a
// seed.
func (e EOT) WithSeed(seed uint64) Attack {
	if r, ok := e.Attack.(Reseeder); ok {
		e.Attack = r.WithSeed(seed)
	}
	return e
}

// Reseed returns a with its seed replaced by seed when it is a Reseeder,
// else a itself (an attack without random choices).
func Reseed(a Attack, seed uint64) Attack {
	if r, ok := a.(Reseeder); ok {
		return r.WithSeed(seed)
	}
	return a
}
