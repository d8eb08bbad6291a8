"""Published values that the lessons compare with and the tests check against, typed once."""

# Raschka, *Build a Large Language Model (From Scratch)* (2024), ch. 4: mean |dL/dW| of each layer's
# weight matrix of the five-layer demo network, layer sizes [3, 3, 3, 3, 3, 1], torch.manual_seed(123),
# input [[1., 0., -1.]], target [[0.]], mean squared error; as printed (five significant digits).
RASCHKA_CH4_SIZES = [3, 3, 3, 3, 3, 1]
RASCHKA_CH4_SEED = 123
RASCHKA_CH4_GRADIENTS = {
    "without": [0.00020174, 0.00012011, 0.00071520, 0.0013989, 0.0050496],  # use_shortcut=False
    "with": [0.22170, 0.20694, 0.32897, 0.26657, 1.3259],  # use_shortcut=True
}

# Parameter counts of GPT-2 small (Raschka 2024, ch. 4, which leaves out the query, key and value biases)
GPT2_SMALL_PARAMETERS = 163_009_536  # with a separate output layer
GPT2_SMALL_PARAMETERS_TIED = 124_412_160  # output layer tied to the token embedding
GPT2_SMALL_BLOCK_FF = 4_722_432  # one block's feed-forward network
GPT2_SMALL_BLOCK_ATTN = 2_360_064  # one block's attention
GPT2_SMALL_BLOCK = 7_085_568  # one block
