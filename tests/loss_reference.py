"""Independent numpy formulas of the training losses, written out row by row, for both backends' tests."""

import numpy as np


def grouped_by_loops(groups, prompts, log_scale, image_nouns, prompt_nouns, tau=0.0):
    """The grouped multi-label loss written out image by image and prompt by prompt (numpy); `tau` > 0 pools the
    groups by `tau * log(sum(exp(cosine / tau)))` instead of the maximum."""
    b, g, p = groups.shape
    k = prompts.shape[1]
    s = float(np.exp(log_scale))
    flat, flat_nouns = prompts.reshape(b * k, p), prompt_nouns.reshape(b * k)
    owner = np.repeat(np.arange(b), k)

    def positive(i, q):
        return owner[q] == i or (flat_nouns[q] >= 0 and flat_nouns[q] in set(image_nouns[i]))

    def score(i, q):
        cosines = [float(groups[i, j] @ flat[q]) for j in range(g)]
        if tau == 0:
            return s * max(cosines)
        return s * tau * np.log(sum(np.exp(c / tau) for c in cosines))

    def soft_ce(logits, targets):
        log_p = logits - np.log(np.exp(logits).sum())
        return -(targets / targets.sum() * log_p).sum()

    image_terms = [soft_ce(np.array([score(i, q) for q in range(b * k)]),
                           np.array([positive(i, q) for q in range(b * k)], dtype=float)) for i in range(b)]
    prompt_terms = [soft_ce(np.array([score(i, q) for i in range(b)]),
                            np.array([positive(i, q) for i in range(b)], dtype=float)) for q in range(b * k)]
    return 0.5 * (np.mean(image_terms) + np.mean(prompt_terms))


def exclusivity_by_loops(groups, prompts, log_scale, prompt_nouns):
    """Per image and own prompt with a noun: -log of the best group's share of softmax_g(s cos(group g, prompt)),
    prompts without a noun (-1) counted 0; the mean over every image and prompt slot."""
    b, g, _ = groups.shape
    k = prompts.shape[1]
    s = float(np.exp(log_scale))
    total = 0.0
    for i in range(b):
        for q in range(k):
            if prompt_nouns[i, q] < 0:
                continue
            logits = [s * float(groups[i, j] @ prompts[i, q]) for j in range(g)]
            best = max(logits)
            total += -(best - np.log(sum(np.exp(v) for v in logits)))
    return total / (b * k)


def shared_noun_case(seed: int = 3):
    """(groups [4, 3, 5], prompts [4, 2, 5], image_nouns, prompt_nouns, log_scale): nouns 7 and 9 are shared
    (images 0 and 2 hold a 7; 1, 2 and 3 a 9); -1 is a caption padding a prompt list, or padding."""
    rng = np.random.default_rng(seed)

    def normalized(*shape):
        x = rng.normal(size=shape)
        return x / np.linalg.norm(x, axis=-1, keepdims=True)

    groups, prompts = normalized(4, 3, 5), normalized(4, 2, 5)
    prompt_nouns = np.array([[7, 1], [9, -1], [7, 9], [9, 3]])
    image_nouns = np.array([[7, 1, -1], [9, -1, -1], [7, 9, 4], [9, 3, 5]])
    return groups, prompts, image_nouns, prompt_nouns, 1.7


def group_balance_by_loops(soft_maps) -> float:
    """Mean over stages of log O - H(usage over every token of the batch) + mean over tokens of H(token)."""
    per_stage = []
    for soft in soft_maps:
        groups = soft.shape[1]
        columns = [soft[i, :, n] for i in range(soft.shape[0]) for n in range(soft.shape[2])]  # one per token
        usage = [sum(c[g] for c in columns) / len(columns) for g in range(groups)]
        tokens = [-sum(p * np.log(p) for p in c if p > 0) for c in columns]
        per_stage.append(np.log(groups) + sum(u * np.log(u) for u in usage if u > 0) + np.mean(tokens))
    return float(np.mean(per_stage))


def soft_map_case(seed: int = 4):
    """Two stages of soft assignments [b, O, N] (softmax over groups); a collapsed, a uniform and a balanced
    one-hot map (4 groups, 8 tokens)."""
    rng = np.random.default_rng(seed)
    maps = []
    for groups, tokens in ((6, 10), (3, 6)):
        logits = rng.normal(size=(2, groups, tokens)) * 2
        maps.append(np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True))
    collapsed = np.zeros((2, 4, 8))
    collapsed[:, 1] = 1.0
    balanced = np.zeros((2, 4, 8))  # image 0 uses groups 0 and 1, image 1 groups 2 and 3: equal over the batch
    balanced[0, np.arange(8) % 2, np.arange(8)] = 1.0
    balanced[1, 2 + np.arange(8) % 2, np.arange(8)] = 1.0
    return maps, collapsed, np.full((2, 4, 8), 0.25), balanced


def naming_by_loops(groups, prompts, log_scale, prompt_nouns):
    """Per image and group: the nouns it carries (it is the image's best group for its prompt of the noun), the
    softmax over every named prompt of the batch, KL(target || softmax) with the target uniform over the
    carried nouns' prompts or, carrying none, over all named prompts; the mean over every image and group."""
    b, g, _ = groups.shape
    k = prompts.shape[1]
    s = float(np.exp(log_scale))
    flat, nouns = prompts.reshape(b * k, -1), prompt_nouns.reshape(b * k)
    named = [q for q in range(b * k) if nouns[q] >= 0]
    terms = []
    for i in range(b):
        carried = {j: set() for j in range(g)}
        for q in range(k):
            if prompt_nouns[i, q] >= 0:
                best = max(range(g), key=lambda j: float(groups[i, j] @ prompts[i, q]))
                carried[best].add(int(prompt_nouns[i, q]))
        for j in range(g):
            logits = {q: s * float(groups[i, j] @ flat[q]) for q in named}
            log_z = np.log(sum(np.exp(v) for v in logits.values()))
            wanted = [q for q in named if nouns[q] in carried[j]] or named
            terms.append(sum((1 / len(wanted)) * (np.log(1 / len(wanted)) - (logits[q] - log_z)) for q in wanted))
    return float(np.mean(terms))
