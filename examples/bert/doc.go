// Package bert is the seed's BERT neuron: a small BERT (token, position and
// segment embeddings, a 2-layer Transformer encoder of width 256 with 2
// heads, a pooler) that serves the pooled [CLS] vector of a batch of
// strings, a student encoder on the detached embeddings that learns to
// imitate the network, and a next-sentence-prediction head trained on
// sentence pairs from a plain-text corpus.
//
// Run trains one with its peers (`bittensor run bert`); the tokenizer is
// package wordpiece; corpus.go reads the text and makes the NSP pairs.
package bert
