package attacks

// DefaultEps is the default attack budget (of Generate, the AdversarialLearner
// and the trainers): 0.1 in
// [0,1] pixels under L-inf, the usual budget for Fashion-MNIST and MNIST-like
// data (about 25 of 255 grey levels). For CIFAR-like colour images 8/255 is
// the usual choice.
const DefaultEps = 0.1

// DefaultThreat returns the default threat model: Linf, DefaultEps, [0,1].
func DefaultThreat() ThreatModel { return ThreatModel{Norm: Linf, Eps: DefaultEps} }

// DefaultAttack returns the default attack: PGD with 20 steps of
// 2.5 * eps / 20 (0.0125 at the default eps) from a random start, seed 0,
// keeping each sample's best iterate.
func DefaultAttack() Attack { return PGD{Steps: 20, RandomStart: true} }
