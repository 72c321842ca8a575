// NeuralNetworks
