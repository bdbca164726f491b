"""Published results of TopoMortar (Valverde et al., BMVC 2025), transcribed from results/PERFORMANCE_TABLES.md of
github.com/jmlipman/TopoMortar (commit a5771061965076248f4edac7c405e77a9b4f61f9): each value is the mean, and each
``<metric>_std`` the ± std, printed there for the 50 in-distribution test images ("indistr") or the 300
out-of-distribution test images pooled over all six OOD groups ("ood"), averaged across 10 random seeds.

What the source gives and what it does not:

* Metrics: Betti-0 error, Betti-1 error, Dice and HD95 only (no clDice, no Betti matching error). Dice is printed with
  two decimals (0.91, not 0.906), the others with up to two; the numbers here are exactly as printed (so 0.9, 201.0).
* Groups: only the in-distribution set and one OOD aggregate; there are no per-group (angles, colors, graffiti,
  objects, occlusion, shadows) numbers, so ``published(..., "angles")`` is {}.
* The table does not say whether the std is over images, seeds or both.
* Bold cells there mark "better than CEDice and significantly different (paired permutation tests, p < 0.05)";
  that marking is not kept here.
* Noisy and pseudo-label runs use the large (50-image) training set; there are no small-set runs for them.
* Every run used strong data augmentation (Table 2 of the paper's supplementary material).
"""

# Our loss names for TopoMortar's (the table's short name, then the --loss name of its train.py):
# dice_ce = CEDice / CEDiceLoss, cldice = clDice / clDiceLoss, skeleton_recall = SkelRecall / CESkeletonRecallLoss,
# hutopo = TopoLoss / TopoLoss (Hu et al., 2019), cbdice = cbDice / cbDiceLoss, warping = Warping / WarpingLoss,
# rwloss = RWLoss / RegionWiseLoss, topo = TOPO / MSETopoWinLoss (Oner et al., 2021, TPAMI).
#
# Where the study cases of PERFORMANCE_TABLES.md land: Study case 1 -> ("accurate", "large")["indistr"],
# Study case 2 -> ("accurate", "large")["ood"], Study case 3 -> ("accurate", "small"), Study case 4 -> ("pseudo",
# "large"), Study case 5 -> ("noisy", "large"); the left halves of Study cases 6-9 repeat those tables (identical
# numbers) and Study case 7 has no new numbers; the right halves of 6, 8 and 9 are in PUBLISHED_OTHER, keyed by
# TopoMortar's --framework name (randhue, selfdistillation).

# (labels, train_set) -> group -> loss -> metric -> value
PUBLISHED: dict[tuple[str, str], dict[str, dict[str, dict[str, float]]]] = {
    # Study case 1 (indistr) and Study case 2 (ood): the ideal scenario.
    ("accurate", "large"): {
        "indistr": {
            "dice_ce": {"dice": 0.91, "dice_std": 0.04, "hd95": 1.87, "hd95_std": 0.87,
                "betti_0": 3.31, "betti_0_std": 6.6, "betti_1": 2.13, "betti_1_std": 3.89},
            "cldice": {"dice": 0.91, "dice_std": 0.05, "hd95": 1.83, "hd95_std": 0.84,
                "betti_0": 1.17, "betti_0_std": 2.26, "betti_1": 1.41, "betti_1_std": 2.53},
            "skeleton_recall": {"dice": 0.91, "dice_std": 0.05, "hd95": 1.9, "hd95_std": 0.89,
                "betti_0": 3.08, "betti_0_std": 5.3, "betti_1": 1.73, "betti_1_std": 2.81},
            "hutopo": {"dice": 0.91, "dice_std": 0.04, "hd95": 1.87, "hd95_std": 0.88,
                "betti_0": 3.14, "betti_0_std": 6.11, "betti_1": 2.73, "betti_1_std": 7.24},
            "cbdice": {"dice": 0.91, "dice_std": 0.04, "hd95": 1.85, "hd95_std": 0.86,
                "betti_0": 4.24, "betti_0_std": 7.12, "betti_1": 3.81, "betti_1_std": 7.65},
            "warping": {"dice": 0.91, "dice_std": 0.05, "hd95": 1.84, "hd95_std": 0.83,
                "betti_0": 4.2, "betti_0_std": 6.95, "betti_1": 3.62, "betti_1_std": 6.25},
            "rwloss": {"dice": 0.91, "dice_std": 0.05, "hd95": 1.84, "hd95_std": 0.84,
                "betti_0": 5.72, "betti_0_std": 9.94, "betti_1": 6.03, "betti_1_std": 12.09},
            "topo": {"dice": 0.86, "dice_std": 0.06, "hd95": 2.68, "hd95_std": 1.24,
                "betti_0": 33.69, "betti_0_std": 22.06, "betti_1": 43.35, "betti_1_std": 23.34},
        },
        "ood": {
            "dice_ce": {"dice": 0.65, "dice_std": 0.19, "hd95": 37.65, "hd95_std": 27.76,
                "betti_0": 197.25, "betti_0_std": 188.68, "betti_1": 87.81, "betti_1_std": 84.29},
            "cldice": {"dice": 0.66, "dice_std": 0.19, "hd95": 36.9, "hd95_std": 28.19,
                "betti_0": 81.33, "betti_0_std": 92.37, "betti_1": 51.64, "betti_1_std": 48.97},
            "skeleton_recall": {"dice": 0.67, "dice_std": 0.18, "hd95": 38.46, "hd95_std": 27.66,
                "betti_0": 180.23, "betti_0_std": 170.31, "betti_1": 96.79, "betti_1_std": 98.12},
            "hutopo": {"dice": 0.65, "dice_std": 0.19, "hd95": 37.33, "hd95_std": 27.58,
                "betti_0": 193.29, "betti_0_std": 190.19, "betti_1": 99.33, "betti_1_std": 95.53},
            "cbdice": {"dice": 0.65, "dice_std": 0.18, "hd95": 37.84, "hd95_std": 27.71,
                "betti_0": 233.49, "betti_0_std": 202.28, "betti_1": 106.08, "betti_1_std": 104.07},
            "warping": {"dice": 0.65, "dice_std": 0.19, "hd95": 37.07, "hd95_std": 27.29,
                "betti_0": 204.26, "betti_0_std": 179.53, "betti_1": 80.23, "betti_1_std": 75.14},
            "rwloss": {"dice": 0.64, "dice_std": 0.19, "hd95": 37.31, "hd95_std": 27.63,
                "betti_0": 219.55, "betti_0_std": 172.14, "betti_1": 87.74, "betti_1_std": 86.38},
            "topo": {"dice": 0.65, "dice_std": 0.17, "hd95": 40.21, "hd95_std": 28.65,
                "betti_0": 117.73, "betti_0_std": 106.3, "betti_1": 105.09, "betti_1_std": 115.16},
        },
    },
    # Study case 3: the small (10-image) training set.
    ("accurate", "small"): {
        "indistr": {
            "dice_ce": {"dice": 0.9, "dice_std": 0.06, "hd95": 2.06, "hd95_std": 1.17,
                "betti_0": 9.57, "betti_0_std": 26.49, "betti_1": 4.63, "betti_1_std": 13.21},
            "cldice": {"dice": 0.9, "dice_std": 0.06, "hd95": 2.04, "hd95_std": 1.15,
                "betti_0": 6.18, "betti_0_std": 23.81, "betti_1": 4.01, "betti_1_std": 12.22},
            "skeleton_recall": {"dice": 0.9, "dice_std": 0.06, "hd95": 2.1, "hd95_std": 1.3,
                "betti_0": 9.89, "betti_0_std": 27.72, "betti_1": 5.18, "betti_1_std": 15.87},
            "hutopo": {"dice": 0.9, "dice_std": 0.06, "hd95": 2.09, "hd95_std": 1.28,
                "betti_0": 8.72, "betti_0_std": 25.53, "betti_1": 4.81, "betti_1_std": 16.27},
            "cbdice": {"dice": 0.9, "dice_std": 0.06, "hd95": 2.08, "hd95_std": 1.23,
                "betti_0": 9.6, "betti_0_std": 26.65, "betti_1": 4.92, "betti_1_std": 13.94},
            "warping": {"dice": 0.9, "dice_std": 0.06, "hd95": 2.06, "hd95_std": 1.14,
                "betti_0": 11.37, "betti_0_std": 33.09, "betti_1": 4.53, "betti_1_std": 11.88},
            "rwloss": {"dice": 0.9, "dice_std": 0.06, "hd95": 2.04, "hd95_std": 1.13,
                "betti_0": 12.35, "betti_0_std": 33.74, "betti_1": 6.42, "betti_1_std": 16.75},
            "topo": {"dice": 0.86, "dice_std": 0.07, "hd95": 2.64, "hd95_std": 1.91,
                "betti_0": 59.6, "betti_0_std": 70.31, "betti_1": 43.29, "betti_1_std": 27.57},
        },
        "ood": {
            "dice_ce": {"dice": 0.55, "dice_std": 0.2, "hd95": 39.57, "hd95_std": 28.9,
                "betti_0": 182.01, "betti_0_std": 128.12, "betti_1": 61.51, "betti_1_std": 52.63},
            "cldice": {"dice": 0.56, "dice_std": 0.2, "hd95": 39.83, "hd95_std": 30.19,
                "betti_0": 127.32, "betti_0_std": 99.03, "betti_1": 38.7, "betti_1_std": 45.49},
            "skeleton_recall": {"dice": 0.57, "dice_std": 0.19, "hd95": 39.68, "hd95_std": 28.32,
                "betti_0": 160.08, "betti_0_std": 115.51, "betti_1": 69.23, "betti_1_std": 56.09},
            "hutopo": {"dice": 0.56, "dice_std": 0.2, "hd95": 39.86, "hd95_std": 29.06,
                "betti_0": 152.05, "betti_0_std": 108.79, "betti_1": 58.13, "betti_1_std": 50.52},
            "cbdice": {"dice": 0.56, "dice_std": 0.2, "hd95": 39.62, "hd95_std": 28.76,
                "betti_0": 156.88, "betti_0_std": 113.95, "betti_1": 54.75, "betti_1_std": 48.32},
            "warping": {"dice": 0.56, "dice_std": 0.2, "hd95": 39.56, "hd95_std": 29.15,
                "betti_0": 190.2, "betti_0_std": 142.46, "betti_1": 43.59, "betti_1_std": 48.43},
            "rwloss": {"dice": 0.57, "dice_std": 0.2, "hd95": 39.46, "hd95_std": 29.43,
                "betti_0": 201.0, "betti_0_std": 142.69, "betti_1": 56.53, "betti_1_std": 56.51},
            "topo": {"dice": 0.59, "dice_std": 0.17, "hd95": 40.54, "hd95_std": 29.47,
                "betti_0": 312.12, "betti_0_std": 190.99, "betti_1": 109.61, "betti_1_std": 107.83},
        },
    },
    # Study case 5: noisy training labels.
    ("noisy", "large"): {
        "indistr": {
            "dice_ce": {"dice": 0.63, "dice_std": 0.12, "hd95": 3.84, "hd95_std": 1.66,
                "betti_0": 6.24, "betti_0_std": 6.64, "betti_1": 5.08, "betti_1_std": 5.21},
            "cldice": {"dice": 0.69, "dice_std": 0.12, "hd95": 3.58, "hd95_std": 1.68,
                "betti_0": 5.01, "betti_0_std": 4.95, "betti_1": 6.77, "betti_1_std": 5.81},
            "skeleton_recall": {"dice": 0.76, "dice_std": 0.09, "hd95": 3.24, "hd95_std": 1.47,
                "betti_0": 3.79, "betti_0_std": 4.8, "betti_1": 1.49, "betti_1_std": 2.19},
            "hutopo": {"dice": 0.62, "dice_std": 0.13, "hd95": 3.88, "hd95_std": 1.73,
                "betti_0": 7.19, "betti_0_std": 9.93, "betti_1": 6.62, "betti_1_std": 6.85},
            "cbdice": {"dice": 0.63, "dice_std": 0.13, "hd95": 3.82, "hd95_std": 1.71,
                "betti_0": 10.5, "betti_0_std": 10.6, "betti_1": 9.74, "betti_1_std": 8.39},
            "warping": {"dice": 0.62, "dice_std": 0.13, "hd95": 3.85, "hd95_std": 1.7,
                "betti_0": 8.48, "betti_0_std": 9.78, "betti_1": 9.49, "betti_1_std": 8.26},
            "rwloss": {"dice": 0.66, "dice_std": 0.13, "hd95": 3.57, "hd95_std": 1.73,
                "betti_0": 17.9, "betti_0_std": 30.69, "betti_1": 11.93, "betti_1_std": 13.81},
            "topo": {"dice": 0.84, "dice_std": 0.07, "hd95": 2.65, "hd95_std": 0.93,
                "betti_0": 24.14, "betti_0_std": 30.55, "betti_1": 10.93, "betti_1_std": 13.42},
        },
        "ood": {
            "dice_ce": {"dice": 0.33, "dice_std": 0.14, "hd95": 40.17, "hd95_std": 33.05,
                "betti_0": 175.17, "betti_0_std": 109.47, "betti_1": 18.72, "betti_1_std": 24.36},
            "cldice": {"dice": 0.46, "dice_std": 0.14, "hd95": 38.9, "hd95_std": 26.86,
                "betti_0": 126.52, "betti_0_std": 89.23, "betti_1": 48.2, "betti_1_std": 48.63},
            "skeleton_recall": {"dice": 0.51, "dice_std": 0.16, "hd95": 40.16, "hd95_std": 29.33,
                "betti_0": 113.33, "betti_0_std": 87.74, "betti_1": 44.6, "betti_1_std": 36.58},
            "hutopo": {"dice": 0.26, "dice_std": 0.14, "hd95": 42.99, "hd95_std": 39.85,
                "betti_0": 205.05, "betti_0_std": 112.25, "betti_1": 14.84, "betti_1_std": 18.31},
            "cbdice": {"dice": 0.31, "dice_std": 0.14, "hd95": 39.26, "hd95_std": 32.83,
                "betti_0": 275.69, "betti_0_std": 148.81, "betti_1": 27.5, "betti_1_std": 27.25},
            "warping": {"dice": 0.35, "dice_std": 0.12, "hd95": 37.61, "hd95_std": 25.5,
                "betti_0": 285.2, "betti_0_std": 170.07, "betti_1": 18.01, "betti_1_std": 20.78},
            "rwloss": {"dice": 0.31, "dice_std": 0.14, "hd95": 36.35, "hd95_std": 27.0,
                "betti_0": 427.46, "betti_0_std": 230.97, "betti_1": 17.87, "betti_1_std": 21.87},
            "topo": {"dice": 0.58, "dice_std": 0.16, "hd95": 39.27, "hd95_std": 27.05,
                "betti_0": 157.22, "betti_0_std": 125.65, "betti_1": 140.45, "betti_1_std": 105.8},
        },
    },
    # Study case 4: pseudo-labels for training.
    ("pseudo", "large"): {
        "indistr": {
            "dice_ce": {"dice": 0.86, "dice_std": 0.07, "hd95": 3.17, "hd95_std": 1.96,
                "betti_0": 12.26, "betti_0_std": 9.71, "betti_1": 12.0, "betti_1_std": 10.14},
            "cldice": {"dice": 0.87, "dice_std": 0.07, "hd95": 3.17, "hd95_std": 2.09,
                "betti_0": 1.8, "betti_0_std": 2.23, "betti_1": 4.3, "betti_1_std": 5.37},
            "skeleton_recall": {"dice": 0.86, "dice_std": 0.07, "hd95": 3.29, "hd95_std": 2.06,
                "betti_0": 10.4, "betti_0_std": 9.31, "betti_1": 10.43, "betti_1_std": 9.27},
            "hutopo": {"dice": 0.86, "dice_std": 0.07, "hd95": 3.18, "hd95_std": 1.94,
                "betti_0": 10.43, "betti_0_std": 8.22, "betti_1": 10.13, "betti_1_std": 9.07},
            "cbdice": {"dice": 0.86, "dice_std": 0.07, "hd95": 3.13, "hd95_std": 1.98,
                "betti_0": 13.12, "betti_0_std": 12.76, "betti_1": 14.66, "betti_1_std": 13.15},
            "warping": {"dice": 0.87, "dice_std": 0.07, "hd95": 3.12, "hd95_std": 1.97,
                "betti_0": 13.57, "betti_0_std": 10.78, "betti_1": 13.26, "betti_1_std": 11.74},
            "rwloss": {"dice": 0.87, "dice_std": 0.07, "hd95": 3.09, "hd95_std": 1.98,
                "betti_0": 11.38, "betti_0_std": 9.29, "betti_1": 11.11, "betti_1_std": 10.4},
            "topo": {"dice": 0.81, "dice_std": 0.07, "hd95": 4.4, "hd95_std": 2.21,
                "betti_0": 36.09, "betti_0_std": 25.6, "betti_1": 31.1, "betti_1_std": 24.7},
        },
        "ood": {
            "dice_ce": {"dice": 0.68, "dice_std": 0.2, "hd95": 35.19, "hd95_std": 29.88,
                "betti_0": 126.21, "betti_0_std": 126.54, "betti_1": 83.92, "betti_1_std": 68.47},
            "cldice": {"dice": 0.67, "dice_std": 0.17, "hd95": 36.87, "hd95_std": 28.15,
                "betti_0": 32.7, "betti_0_std": 42.79, "betti_1": 61.57, "betti_1_std": 71.51},
            "skeleton_recall": {"dice": 0.7, "dice_std": 0.19, "hd95": 34.91, "hd95_std": 27.81,
                "betti_0": 113.63, "betti_0_std": 124.15, "betti_1": 85.75, "betti_1_std": 77.06},
            "hutopo": {"dice": 0.68, "dice_std": 0.2, "hd95": 36.33, "hd95_std": 32.16,
                "betti_0": 117.98, "betti_0_std": 108.17, "betti_1": 110.32, "betti_1_std": 97.64},
            "cbdice": {"dice": 0.68, "dice_std": 0.2, "hd95": 35.72, "hd95_std": 32.0,
                "betti_0": 141.42, "betti_0_std": 129.71, "betti_1": 122.91, "betti_1_std": 103.54},
            "warping": {"dice": 0.67, "dice_std": 0.19, "hd95": 36.43, "hd95_std": 28.29,
                "betti_0": 127.08, "betti_0_std": 141.36, "betti_1": 95.47, "betti_1_std": 81.2},
            "rwloss": {"dice": 0.67, "dice_std": 0.18, "hd95": 36.65, "hd95_std": 26.79,
                "betti_0": 114.65, "betti_0_std": 115.08, "betti_1": 96.49, "betti_1_std": 82.71},
            "topo": {"dice": 0.66, "dice_std": 0.17, "hd95": 40.53, "hd95_std": 26.88,
                "betti_0": 225.37, "betti_0_std": 191.59, "betti_1": 132.21, "betti_1_std": 152.82},
        },
    },
}

# (setting, labels, train_set) -> group -> loss -> metric -> value
PUBLISHED_OTHER: dict[tuple[str, str, str], dict[str, dict[str, dict[str, float]]]] = {
    # Study case 6, right half: the ideal scenario plus RandHue augmentation.
    ("randhue", "accurate", "large"): {
        "indistr": {
            "dice_ce": {"dice": 0.91, "dice_std": 0.04, "hd95": 1.88, "hd95_std": 1.19,
                "betti_0": 1.9, "betti_0_std": 5.92, "betti_1": 1.99, "betti_1_std": 8.94},
            "cldice": {"dice": 0.91, "dice_std": 0.04, "hd95": 1.77, "hd95_std": 0.81,
                "betti_0": 0.56, "betti_0_std": 1.18, "betti_1": 0.95, "betti_1_std": 1.44},
            "skeleton_recall": {"dice": 0.91, "dice_std": 0.05, "hd95": 1.91, "hd95_std": 1.19,
                "betti_0": 2.0, "betti_0_std": 6.44, "betti_1": 2.01, "betti_1_std": 8.44},
            "hutopo": {"dice": 0.91, "dice_std": 0.04, "hd95": 1.9, "hd95_std": 1.37,
                "betti_0": 2.87, "betti_0_std": 11.4, "betti_1": 3.34, "betti_1_std": 17.14},
            "cbdice": {"dice": 0.91, "dice_std": 0.05, "hd95": 1.89, "hd95_std": 1.39,
                "betti_0": 2.71, "betti_0_std": 8.31, "betti_1": 3.29, "betti_1_std": 14.07},
            "warping": {"dice": 0.91, "dice_std": 0.04, "hd95": 1.8, "hd95_std": 0.84,
                "betti_0": 2.5, "betti_0_std": 5.53, "betti_1": 1.88, "betti_1_std": 3.76},
            "rwloss": {"dice": 0.91, "dice_std": 0.05, "hd95": 1.8, "hd95_std": 0.82,
                "betti_0": 3.3, "betti_0_std": 6.07, "betti_1": 2.93, "betti_1_std": 6.1},
            "topo": {"dice": 0.86, "dice_std": 0.06, "hd95": 2.64, "hd95_std": 1.48,
                "betti_0": 19.71, "betti_0_std": 13.75, "betti_1": 40.56, "betti_1_std": 21.89},
        },
        "ood": {
            "dice_ce": {"dice": 0.74, "dice_std": 0.16, "hd95": 36.1, "hd95_std": 27.65,
                "betti_0": 69.73, "betti_0_std": 96.57, "betti_1": 53.32, "betti_1_std": 62.06},
            "cldice": {"dice": 0.74, "dice_std": 0.16, "hd95": 35.42, "hd95_std": 28.44,
                "betti_0": 16.54, "betti_0_std": 21.6, "betti_1": 15.12, "betti_1_std": 19.93},
            "skeleton_recall": {"dice": 0.75, "dice_std": 0.15, "hd95": 37.83, "hd95_std": 28.27,
                "betti_0": 65.46, "betti_0_std": 82.18, "betti_1": 62.72, "betti_1_std": 69.3},
            "hutopo": {"dice": 0.74, "dice_std": 0.16, "hd95": 36.19, "hd95_std": 28.21,
                "betti_0": 85.25, "betti_0_std": 112.1, "betti_1": 80.09, "betti_1_std": 92.3},
            "cbdice": {"dice": 0.74, "dice_std": 0.16, "hd95": 36.5, "hd95_std": 28.26,
                "betti_0": 90.26, "betti_0_std": 111.28, "betti_1": 83.22, "betti_1_std": 89.04},
            "warping": {"dice": 0.73, "dice_std": 0.17, "hd95": 35.94, "hd95_std": 27.97,
                "betti_0": 57.07, "betti_0_std": 66.24, "betti_1": 40.02, "betti_1_std": 39.33},
            "rwloss": {"dice": 0.72, "dice_std": 0.17, "hd95": 36.54, "hd95_std": 27.81,
                "betti_0": 62.75, "betti_0_std": 59.68, "betti_1": 49.84, "betti_1_std": 43.58},
            "topo": {"dice": 0.72, "dice_std": 0.15, "hd95": 42.31, "hd95_std": 29.35,
                "betti_0": 97.24, "betti_0_std": 74.51, "betti_1": 49.91, "betti_1_std": 55.28},
        },
    },
    # Study case 9, right half: self-distillation on noisy labels.
    ("selfdistillation", "noisy", "large"): {
        "indistr": {
            "dice_ce": {"dice": 0.65, "dice_std": 0.12, "hd95": 3.72, "hd95_std": 1.74,
                "betti_0": 2.43, "betti_0_std": 2.93, "betti_1": 2.79, "betti_1_std": 3.1},
            "cldice": {"dice": 0.78, "dice_std": 0.1, "hd95": 2.98, "hd95_std": 1.48,
                "betti_0": 0.91, "betti_0_std": 1.44, "betti_1": 1.64, "betti_1_std": 2.08},
            "skeleton_recall": {"dice": 0.79, "dice_std": 0.07, "hd95": 3.08, "hd95_std": 1.34,
                "betti_0": 1.43, "betti_0_std": 2.28, "betti_1": 0.97, "betti_1_std": 1.58},
            "hutopo": {"dice": 0.6, "dice_std": 0.15, "hd95": 4.09, "hd95_std": 2.72,
                "betti_0": 5.57, "betti_0_std": 6.59, "betti_1": 8.28, "betti_1_std": 7.7},
            "cbdice": {"dice": 0.69, "dice_std": 0.13, "hd95": 3.44, "hd95_std": 1.73,
                "betti_0": 4.74, "betti_0_std": 5.84, "betti_1": 6.25, "betti_1_std": 7.12},
            "warping": {"dice": 0.67, "dice_std": 0.13, "hd95": 3.56, "hd95_std": 1.74,
                "betti_0": 2.75, "betti_0_std": 3.13, "betti_1": 4.0, "betti_1_std": 4.59},
            "rwloss": {"dice": 0.66, "dice_std": 0.12, "hd95": 3.62, "hd95_std": 1.82,
                "betti_0": 13.48, "betti_0_std": 21.05, "betti_1": 16.62, "betti_1_std": 19.25},
            "topo": {"dice": 0.83, "dice_std": 0.08, "hd95": 3.52, "hd95_std": 2.63,
                "betti_0": 67.23, "betti_0_std": 103.18, "betti_1": 9.25, "betti_1_std": 14.23},
        },
        "ood": {
            "dice_ce": {"dice": 0.35, "dice_std": 0.14, "hd95": 42.12, "hd95_std": 35.22,
                "betti_0": 113.55, "betti_0_std": 87.91, "betti_1": 13.51, "betti_1_std": 17.81},
            "cldice": {"dice": 0.49, "dice_std": 0.16, "hd95": 42.41, "hd95_std": 33.64,
                "betti_0": 62.84, "betti_0_std": 63.16, "betti_1": 22.54, "betti_1_std": 24.62},
            "skeleton_recall": {"dice": 0.55, "dice_std": 0.16, "hd95": 39.94, "hd95_std": 29.55,
                "betti_0": 62.77, "betti_0_std": 63.92, "betti_1": 36.82, "betti_1_std": 32.2},
            "hutopo": {"dice": 0.25, "dice_std": 0.14, "hd95": 71.88, "hd95_std": 93.34,
                "betti_0": 112.54, "betti_0_std": 70.03, "betti_1": 15.73, "betti_1_std": 20.22},
            "cbdice": {"dice": 0.35, "dice_std": 0.15, "hd95": 42.83, "hd95_std": 35.83,
                "betti_0": 163.05, "betti_0_std": 111.21, "betti_1": 23.56, "betti_1_std": 49.91},
            "warping": {"dice": 0.37, "dice_std": 0.13, "hd95": 42.07, "hd95_std": 33.03,
                "betti_0": 153.22, "betti_0_std": 108.2, "betti_1": 16.17, "betti_1_std": 19.84},
            "rwloss": {"dice": 0.3, "dice_std": 0.14, "hd95": 36.97, "hd95_std": 29.49,
                "betti_0": 288.58, "betti_0_std": 183.94, "betti_1": 17.93, "betti_1_std": 21.14},
            "topo": {"dice": 0.54, "dice_std": 0.16, "hd95": 41.72, "hd95_std": 28.55,
                "betti_0": 118.35, "betti_0_std": 111.84, "betti_1": 81.03, "betti_1_std": 73.9},
        },
    },
    # Study case 8, right half: self-distillation on pseudo-labels.
    ("selfdistillation", "pseudo", "large"): {
        "indistr": {
            "dice_ce": {"dice": 0.87, "dice_std": 0.07, "hd95": 3.11, "hd95_std": 2.01,
                "betti_0": 3.76, "betti_0_std": 4.0, "betti_1": 3.99, "betti_1_std": 4.68},
            "cldice": {"dice": 0.88, "dice_std": 0.08, "hd95": 3.24, "hd95_std": 2.24,
                "betti_0": 2.13, "betti_0_std": 2.54, "betti_1": 2.69, "betti_1_std": 3.51},
            "skeleton_recall": {"dice": 0.86, "dice_std": 0.08, "hd95": 3.4, "hd95_std": 2.17,
                "betti_0": 4.72, "betti_0_std": 5.46, "betti_1": 5.44, "betti_1_std": 5.91},
            "hutopo": {"dice": 0.86, "dice_std": 0.07, "hd95": 3.43, "hd95_std": 2.23,
                "betti_0": 7.57, "betti_0_std": 6.02, "betti_1": 3.55, "betti_1_std": 3.22},
            "cbdice": {"dice": 0.87, "dice_std": 0.07, "hd95": 3.06, "hd95_std": 2.02,
                "betti_0": 4.5, "betti_0_std": 4.8, "betti_1": 4.79, "betti_1_std": 5.31},
            "warping": {"dice": 0.88, "dice_std": 0.07, "hd95": 3.01, "hd95_std": 1.97,
                "betti_0": 4.58, "betti_0_std": 4.33, "betti_1": 4.82, "betti_1_std": 5.04},
            "rwloss": {"dice": 0.87, "dice_std": 0.07, "hd95": 3.11, "hd95_std": 2.01,
                "betti_0": 4.43, "betti_0_std": 4.36, "betti_1": 4.27, "betti_1_std": 4.56},
            "topo": {"dice": 0.76, "dice_std": 0.08, "hd95": 5.56, "hd95_std": 3.07,
                "betti_0": 64.52, "betti_0_std": 26.38, "betti_1": 73.08, "betti_1_std": 56.86},
        },
        "ood": {
            "dice_ce": {"dice": 0.69, "dice_std": 0.19, "hd95": 36.34, "hd95_std": 29.07,
                "betti_0": 68.35, "betti_0_std": 81.14, "betti_1": 47.43, "betti_1_std": 54.34},
            "cldice": {"dice": 0.63, "dice_std": 0.18, "hd95": 37.82, "hd95_std": 28.83,
                "betti_0": 32.55, "betti_0_std": 38.26, "betti_1": 55.92, "betti_1_std": 66.45},
            "skeleton_recall": {"dice": 0.68, "dice_std": 0.18, "hd95": 36.44, "hd95_std": 27.7,
                "betti_0": 81.54, "betti_0_std": 97.27, "betti_1": 61.77, "betti_1_std": 64.07},
            "hutopo": {"dice": 0.68, "dice_std": 0.19, "hd95": 37.93, "hd95_std": 32.34,
                "betti_0": 34.87, "betti_0_std": 35.12, "betti_1": 31.74, "betti_1_std": 38.98},
            "cbdice": {"dice": 0.68, "dice_std": 0.2, "hd95": 37.29, "hd95_std": 30.67,
                "betti_0": 78.42, "betti_0_std": 79.94, "betti_1": 61.37, "betti_1_std": 65.34},
            "warping": {"dice": 0.66, "dice_std": 0.19, "hd95": 36.48, "hd95_std": 28.36,
                "betti_0": 66.29, "betti_0_std": 69.64, "betti_1": 42.68, "betti_1_std": 49.32},
            "rwloss": {"dice": 0.67, "dice_std": 0.19, "hd95": 36.09, "hd95_std": 27.9,
                "betti_0": 72.95, "betti_0_std": 82.68, "betti_1": 43.88, "betti_1_std": 50.22},
            "topo": {"dice": 0.63, "dice_std": 0.15, "hd95": 39.74, "hd95_std": 29.12,
                "betti_0": 131.26, "betti_0_std": 107.06, "betti_1": 57.51, "betti_1_std": 84.87},
        },
    },
}


def published(labels: str, train_set: str, group: str, *, setting: str = "supervised") -> dict[str, dict[str, float]]:
    """Loss -> metric -> value for one training setting and test group ("indistr" or "ood"); {} when absent.

    ``setting`` is TopoMortar's --framework: "supervised" (the default) reads PUBLISHED, "randhue" and
    "selfdistillation" read PUBLISHED_OTHER.
    """
    if setting == "supervised":
        table = PUBLISHED.get((labels, train_set), {})
    else:
        table = PUBLISHED_OTHER.get((setting, labels, train_set), {})
    return {loss: dict(metrics) for loss, metrics in table.get(group, {}).items()}
