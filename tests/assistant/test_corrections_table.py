"""Corrections read as people mean them: a table of phrasings with the likes and dislikes each states.

Negation has a scope ("shorter answers and no jokes"), "too" means too much ("not too long"), a
negated descriptor is stated through its positive twin ("less emoji": not keen on "uses emoji"),
and a direction the vocabulary names several ways is stated once. The real embedding model reads
the phrases, against the styles vocabulary of the default pack and against MovieLens genres.
Expected sides are compared by direction: "Not keen on: long and detailed" and "Enjoys: short and
concise" say the same (one group of the vocabulary).
"""

from dataclasses import replace

import pytest

from prefchat.assistant import wording
from prefchat.assistant.corrections import example_correction, parse_correction
from prefchat.assistant.summary import STATED_WEIGHT, Summary, apply_correction
from prefchat.reward.naming import descriptor_groups, read_vocabulary

from .test_summary import planted

STYLES, GENRES = "styles", "genres"
MOVIE_GENRES = ["drama", "comedy", "thriller", "action", "romance", "adventure", "crime", "horror", "sci-fi", "fantasy",
                "children", "animation", "mystery", "documentary", "war", "musical", "western"]

TABLE = [
    (STYLES, 'no jokes', (), ('witty jokes',)),
    (STYLES, 'not too long', (), ('long and detailed',)),
    (STYLES, 'I prefer shorter answers and no jokes', ('short and concise',), ('witty jokes',)),
    (STYLES, 'I actually like emoji', ('uses emoji',), ()),
    (STYLES, 'less emoji', (), ('uses emoji',)),
    (STYLES, 'no emoji please', (), ('uses emoji',)),
    (STYLES, 'stop using emoji', (), ('uses emoji',)),
    (STYLES, 'more emoji', ('uses emoji',), ()),
    (STYLES, 'I hate long answers', (), ('long and detailed',)),
    (STYLES, 'keep it short', ('short and concise',), ()),
    (STYLES, 'shorter please', ('short and concise',), ()),
    (STYLES, 'longer, more detailed answers', ('long and detailed',), ()),
    (STYLES, 'no bullet points', (), ('bullet points and numbered steps',)),
    (STYLES, 'I like bullet points', ('bullet points and numbered steps',), ()),
    (STYLES, 'use numbered steps', ('bullet points and numbered steps',), ()),
    (STYLES, 'I prefer flowing paragraphs', ('flowing prose paragraphs',), ()),
    (STYLES, 'be more formal', ('formal and professional',), ()),
    (STYLES, 'less formal please', (), ('formal and professional',)),
    (STYLES, "don't be so formal", (), ('formal and professional',)),
    (STYLES, 'more casual', ('casual and chatty',), ()),
    (STYLES, 'I like a casual tone', ('casual and chatty',), ()),
    (STYLES, "I don't like jokes", (), ('witty jokes',)),
    (STYLES, 'I love jokes', ('witty jokes',), ()),
    (STYLES, 'more humour please', ('witty jokes',), ()),
    (STYLES, 'not so serious', (), ('serious and dry',)),
    (STYLES, 'fewer caveats', (), ('cautious with caveats',)),
    (STYLES, 'be more direct', ('direct and confident',), ()),
    (STYLES, 'I like caveats and warnings', ('cautious with caveats',), ()),
    (STYLES, 'more examples please', ('concrete examples',), ()),
    (STYLES, 'give me concrete examples', ('concrete examples',), ()),
    (STYLES, 'no examples', (), ('concrete examples',)),
    (STYLES, 'more technical detail', ('technical detail and terminology',), ()),
    (STYLES, 'less jargon', (), ('technical detail and terminology',)),
    (STYLES, 'not too technical', (), ('technical detail and terminology',)),
    (STYLES, 'beginner friendly please', ('beginner friendly',), ()),
    (STYLES, 'warmer please', ('warm and encouraging',), ()),
    (STYLES, 'less enthusiastic', (), ('enthusiastic',)),
    (STYLES, 'I prefer calm answers', ('calm and neutral',), ()),
    (STYLES, 'no jokes or emoji', (), ('uses emoji', 'witty jokes')),
    (STYLES, 'short answers with examples, no emoji', ('concrete examples', 'short and concise'), ('uses emoji',)),
    (STYLES, 'no long and detailed please', (), ('long and detailed',)),
    (STYLES, 'no jokes and shorter answers please', ('short and concise',), ('witty jokes',)),
    (STYLES, 'no emoji and no longer answers', (), ('long and detailed', 'uses emoji')),
    (STYLES, 'less technical detail and terminology please', (), ('technical detail and terminology',)),
    (STYLES, 'more bullet points and numbered steps', ('bullet points and numbered steps',), ()),
    (GENRES, 'no horror please', (), ('horror',)),
    (GENRES, 'I love horror movies', ('horror',), ()),
    (GENRES, 'actually I love musicals', ('musical',), ()),
    (GENRES, 'not a fan of westerns', (), ('western',)),
    (GENRES, "I don't like romance", (), ('romance',)),
    (GENRES, 'more documentaries and war films', ('documentary', 'war'), ()),
    (GENRES, 'I love comedy, not horror', ('comedy',), ('horror',)),
    (GENRES, 'no animation', (), ('animation',)),
    (GENRES, "I'd rather have thrillers", ('thriller',), ()),
    (GENRES, 'sci-fi and fantasy please, no romance', ('fantasy', 'sci-fi'), ('romance',)),
    (GENRES, 'no horror and romance please', (), ('horror', 'romance')),
    (GENRES, 'please no westerns', (), ('western',)),
]
"""(vocabulary, what the user says, what they enjoy, what they are not keen on)."""


@pytest.fixture(scope="module")
def packs(embedding_model, small_pack):
    from prefchat.reward.featurize import embed_texts

    def embed(texts):
        return embed_texts(texts, embedding_model)

    base = planted(small_pack)
    vocabulary, definitions = read_vocabulary("styles")
    styles = replace(base, descriptors=vocabulary, descriptor_embeddings=embed(vocabulary),
                     manifest={**base.manifest, "descriptor_source": "vocabulary", "descriptor_definitions": definitions})
    genres = replace(base, descriptors=MOVIE_GENRES, descriptor_embeddings=embed(MOVIE_GENRES))
    return {STYLES: styles, GENRES: genres}, embed


def directions(pack, likes, dislikes) -> dict[int, float]:
    """Group of the vocabulary -> +1 (enjoyed) or -1, whichever member names it."""
    group, sign = descriptor_groups(pack.descriptors, pack.descriptor_definitions)
    column = {d: j for j, d in enumerate(pack.descriptors)}
    said = {}
    for descriptors, side in ((likes, 1.0), (dislikes, -1.0)):
        for d in descriptors:
            said[int(group[column[d]])] = side * sign[column[d]]
    return said


def test_the_chat_suggests_a_correction_the_text_pack_acts_on(packs):
    """A text pack's invitation suggests a like of less of a counted measure ("short and concise"),
    never a film's genre, and typed as suggested it is read as that like."""
    by_name, embed = packs
    pack = by_name[STYLES]
    example = example_correction(pack)
    assert example == "actually I prefer short and concise"
    weights = parse_correction(pack, example, embed)
    assert weights is not None
    assert directions(pack, [d for d, w in weights.items() if w > 0], [d for d, w in weights.items() if w < 0]) == \
        directions(pack, ["short and concise"], [])


@pytest.mark.parametrize("text", ["no long and detailed please", "no long & detailed please",
                                  "not so long and detailed please", "no long and detailed answers, please"])
def test_a_descriptor_named_with_and_is_disliked_whole(packs, text):
    """The negation before "long and detailed" holds for the whole name: split at its "and",
    "detailed" was read as a like, and the summary said the user enjoys long and detailed answers."""
    by_name, embed = packs
    pack = by_name[STYLES]
    weights = parse_correction(pack, text, embed)
    assert weights is not None, text
    assert directions(pack, [d for d, w in weights.items() if w > 0], [d for d, w in weights.items() if w < 0]) == \
        directions(pack, [], ["long and detailed"]), (text, weights)
    stated = apply_correction(Summary("No strong preferences yet.", (), 0, 0), weights, pack).text.lower()
    assert "enjoys long and detailed" not in stated and "not keen on long and detailed" in stated, stated


@pytest.mark.parametrize("text", ["no sword and sorcery please", "no sword & sorcery please"])
def test_a_tag_named_with_an_ampersand_is_disliked_whole(packs, text):
    by_name, embed = packs
    tags = [*MOVIE_GENRES, "sword & sorcery"]
    pack = replace(by_name[GENRES], descriptors=tags, descriptor_embeddings=embed(tags))
    assert parse_correction(pack, text, embed) == {"sword & sorcery": -STATED_WEIGHT}


def test_the_table_is_large_enough():
    assert len(TABLE) >= 40
    assert len({text for _, text, _, _ in TABLE}) == len(TABLE)


@pytest.mark.slow
@pytest.mark.parametrize("vocabulary, text, likes, dislikes", TABLE)
def test_corrections_read_as_meant(packs, vocabulary, text, likes, dislikes):
    by_name, embed = packs
    pack = by_name[vocabulary]
    weights = parse_correction(pack, text, embed)
    assert weights is not None, text
    assert set(map(abs, weights.values())) == {STATED_WEIGHT}
    got = ([d for d, w in weights.items() if w > 0], [d for d, w in weights.items() if w < 0])
    assert directions(pack, *got) == directions(pack, likes, dislikes), (text, weights)
    corrected = apply_correction(Summary("No strong preferences yet.", (), 0, 0), weights, pack)
    assert set(corrected.likes) == set(got[0]) and set(corrected.dislikes) == set(got[1])
    for descriptor in corrected.dislikes:  # a negation is never what the user is "not keen on"
        assert not descriptor.startswith(("no ", "answers without")), corrected.text
    stated = corrected.text.split("Stated by you: ")[1]
    for descriptor in got[0]:  # as a sentence says it: "uses emoji" reads "emoji"
        assert f"enjoys {wording.spoken(descriptor)}" in stated
    for descriptor in got[1]:
        assert f"not keen on {wording.spoken(descriptor)}" in stated
