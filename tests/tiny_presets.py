"""Tiny KerasHub presets with random weights, written with `save_to_preset`: tests never download.

`write_bert_preset` is a WordPiece family (BERT); `write_albert_preset` a
SentencePiece family whose model is trained here, on a few Chinese and English
lines, with the `sentencepiece` package. Both: 2 layers of width 32, a
vocabulary of a few hundred tokens.
"""

import io
import string

from keyword_data import FILLER, KEYWORDS, TOPIC_FILLER, TOPIC_KEYWORDS

CHINESE_LINES = [
    "这部电影很好看，演员很棒", "这部电影太糟糕了，剧情无聊", "我喜欢这个故事和音乐", "我不喜欢这个结局",
    "服务很好，房间干净", "房间很脏，服务很差", "今天天气很好", "明天会下雨", "银行的利息很高", "足球比赛很精彩",
]


def bert_vocabulary():
    """A WordPiece vocabulary: BERT's special tokens, the test data's words, and single characters."""
    words = sorted({*FILLER, *KEYWORDS.values(), *TOPIC_FILLER, *TOPIC_KEYWORDS.values(), "good", "bad", "film"})
    characters = list(string.ascii_lowercase + string.digits + string.punctuation)
    chinese = sorted({c for line in CHINESE_LINES for c in line if "\u4e00" <= c <= "\u9fff"})
    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    for token in [*words, *characters, *chinese, *("##" + c for c in string.ascii_lowercase + string.digits)]:
        if token not in vocabulary:
            vocabulary.append(token)
    return vocabulary


def write_bert_preset(directory, max_sequence_length=64, seed=0):
    """A BERT preset (WordPiece tokenizer, 2 layers of width 32, random weights) in `directory`."""
    import keras
    import keras_hub

    keras.utils.set_random_seed(seed)
    vocabulary = bert_vocabulary()
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=True)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(vocabulary), num_layers=2, num_heads=2, hidden_dim=32, intermediate_dim=64,
        max_sequence_length=max_sequence_length,
    )
    backbone.save_to_preset(str(directory))
    tokenizer.save_to_preset(str(directory))
    return directory


def train_sentencepiece(lines, vocab_size=300):
    """A serialized SentencePiece model (ALBERT's special tokens) trained on `lines`."""
    import sentencepiece

    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=model, vocab_size=vocab_size, model_type="unigram",
        pad_id=0, unk_id=1, bos_id=-1, eos_id=-1, control_symbols=["[CLS]", "[SEP]", "[MASK]"],
        character_coverage=1.0, hard_vocab_limit=False, minloglevel=2,
    )
    return model.getvalue()


def write_albert_preset(directory, lines, max_sequence_length=64, seed=0):
    """An ALBERT preset (a SentencePiece model trained on `lines`, 2 layers of width 32) in `directory`."""
    import keras
    import keras_hub

    keras.utils.set_random_seed(seed)
    tokenizer = keras_hub.models.AlbertTokenizer(proto=train_sentencepiece(lines))
    backbone = keras_hub.models.AlbertBackbone(
        vocabulary_size=tokenizer.vocabulary_size(), num_layers=2, num_heads=2, embedding_dim=16, hidden_dim=32,
        intermediate_dim=64, max_sequence_length=max_sequence_length,
    )
    backbone.save_to_preset(str(directory))
    tokenizer.save_to_preset(str(directory))
    return directory
