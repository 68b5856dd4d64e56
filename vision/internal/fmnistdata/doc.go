// Package fmnistdata embeds the 10,000-image test split of Fashion-MNIST
// (MIT licence, Copyright (c) 2017 Zalando SE; see LICENSE in this directory)
// as the two gzip-compressed IDX files of the official distribution.
package fmnistdata
