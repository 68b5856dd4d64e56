// Package testmodels holds what the tests of fastgo's adversarial packages
// share: small models with known closed forms (linear classifiers, small
// conv nets with BatchNorm and a probe called on every forward pass),
// synthetic data, a learner over it, and the Fashion-MNIST models the long
// checks train once per test binary. It is imported by tests only.
package testmodels
