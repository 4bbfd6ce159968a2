"""Building blocks: embeddings, the encoder block, masked pooling, and the probability blend."""

from transformer_kit.layers.masked_pooling import MaskedPooling
from transformer_kit.layers.probability_blend import ProbabilityBlend
from transformer_kit.layers.token_and_position_embedding import TokenAndPositionEmbedding
from transformer_kit.layers.transformer_encoder import TransformerEncoder

__all__ = [
    "MaskedPooling",
    "ProbabilityBlend",
    "TokenAndPositionEmbedding",
    "TransformerEncoder",
]
