"""Reference data for the 40 ``keras.applications`` ImageNet backbones.

Sources
-------
* Published numbers (size_mb, top1, top5, params_with_top, depth, cpu_ms, gpu_ms):
  the "Available models" table of the Keras Applications page
  (https://keras.io/api/applications/), whose source is
  ``templates/api/applications/index.md`` in github.com/keras-team/keras-io
  (table last changed by commit 6afe7745e3ecf1327e3dccc39253e167e977c373,
  "chore: add convnext models. (#871)", 2022-09-07; blob
  5b9d24f058d82312bfbba2d71fdf0de59f4b93d7; the rendered page of 2026-01-21
  shows the same rows). Page footnotes: top-1/top-5 are accuracy on the
  ImageNet validation set; "Depth refers to the topological depth of the
  network. This includes activation layers, batch normalization layers etc."
  and also "Depth counts the number of layers with parameters" (the page says
  both); time per inference step is the average of 30 batches and 10
  repetitions on an AMD EPYC Processor (with IBPB) (92 core) CPU, 1.7T RAM, a
  Tesla A100 GPU, batch size 32. Parameters are rounded to 0.1M on the page
  (e.g. "138.4M" -> 138_400_000); accuracies are stored as fractions.
  A "-" cell on the page is None here. MobileNetV3Small/Large have no row on
  the page, so all their published fields are None.
* Input sizes and preprocessing: the Keras source installed with this project
  (keras 3.15.1, ``keras/src/applications/*.py``). ``default_input_size`` is
  the ``default_size`` given to ``imagenet_utils.obtain_input_shape`` (the
  resolution the ImageNet weights were trained at), ``min_size_checked`` the
  ``min_size`` given there (MobileNetV3 does not call obtain_input_shape; it
  raises its own "Input size must be at least 32x32" error and warns unless
  the input is 224x224, so 224/32 are used for it). ``preprocess`` is the
  mode of the module's ``preprocess_input`` ("caffe", "tf", "torch"), or
  "none" where ``preprocess_input`` returns its input unchanged because the
  model rescales inside (EfficientNet, EfficientNetV2, ConvNeXt, MobileNetV3).
  ``include_preprocessing`` is the default of that constructor flag (None
  where the constructor has no such flag); ``in_model_preprocessing``
  describes what the model does inside when it is on. "ImageNet mean/std" is
  mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225] (Normalization gets
  variance=std**2); EfficientNetV2 B0-B3 use it only for 3-channel input, S/M/L
  use Rescaling(1/128, offset=-1); ConvNeXt's PreStem applies it scaled by 255
  (3-channel input only); EfficientNet B0-B7 always rescale and normalize and,
  with imagenet weights, add a Rescaling by 1/sqrt(stddev) (the source cites
  tensorflow/tensorflow#49930).
* ``params_counted``: ``model.count_params()`` of the model built with
  ``weights=None`` and the default ``include_top=True`` under keras 3.15.1
  (TensorFlow backend), a cross-check on the page's rounded figures.

Each class is ``keras.applications.<keras_class>`` (MobileNetV3Small/Large are exported only
there). One row per backbone, the columns in ``COLUMNS``.
"""

from __future__ import annotations

COLUMNS = ("keras_class", "default_input_size", "min_size_checked", "preprocess", "size_mb", "top1", "top5",
           "params_with_top", "depth", "cpu_ms", "gpu_ms", "params_counted")

ROWS = {
    "vgg16": ("VGG16", 224, 32, "caffe", 528, 0.713, 0.901, 138_400_000, 16, 69.5, 4.2, 138_357_544),
    "vgg19": ("VGG19", 224, 32, "caffe", 549, 0.713, 0.9, 143_700_000, 19, 84.8, 4.4, 143_667_240),
    "resnet50": ("ResNet50", 224, 32, "caffe", 98, 0.749, 0.921, 25_600_000, 107, 58.2, 4.6, 25_636_712),
    "resnet101": ("ResNet101", 224, 32, "caffe", 171, 0.764, 0.928, 44_700_000, 209, 89.6, 5.2, 44_707_176),
    "resnet152": ("ResNet152", 224, 32, "caffe", 232, 0.766, 0.931, 60_400_000, 311, 127.4, 6.5, 60_419_944),
    "resnet50v2": ("ResNet50V2", 224, 32, "tf", 98, 0.76, 0.93, 25_600_000, 103, 45.6, 4.4, 25_613_800),
    "resnet101v2": ("ResNet101V2", 224, 32, "tf", 171, 0.772, 0.938, 44_700_000, 205, 72.7, 5.4, 44_675_560),
    "resnet152v2": ("ResNet152V2", 224, 32, "tf", 232, 0.78, 0.942, 60_400_000, 307, 107.5, 6.6, 60_380_648),
    "inceptionv3": ("InceptionV3", 299, 75, "tf", 92, 0.779, 0.937, 23_900_000, 189, 42.2, 6.9, 23_851_784),
    "inceptionresnetv2": ("InceptionResNetV2", 299, 75, "tf", 215, 0.803, 0.953, 55_900_000, 449, 130.2, 10.0, 55_873_736),
    "xception": ("Xception", 299, 71, "tf", 88, 0.79, 0.945, 22_900_000, 81, 109.4, 8.1, 22_910_480),
    "mobilenet": ("MobileNet", 224, 32, "tf", 16, 0.704, 0.895, 4_300_000, 55, 22.6, 3.4, 4_253_864),
    "mobilenetv2": ("MobileNetV2", 224, 32, "tf", 14, 0.713, 0.901, 3_500_000, 105, 25.9, 3.8, 3_538_984),
    "mobilenetv3small": ("MobileNetV3Small", 224, 32, "none", None, None, None, None, None, None, None, 2_554_968),
    "mobilenetv3large": ("MobileNetV3Large", 224, 32, "none", None, None, None, None, None, None, None, 5_507_432),
    "densenet121": ("DenseNet121", 224, 32, "torch", 33, 0.75, 0.923, 8_100_000, 242, 77.1, 5.4, 8_062_504),
    "densenet169": ("DenseNet169", 224, 32, "torch", 57, 0.762, 0.932, 14_300_000, 338, 96.4, 6.3, 14_307_880),
    "densenet201": ("DenseNet201", 224, 32, "torch", 80, 0.773, 0.936, 20_200_000, 402, 127.2, 6.7, 20_242_984),
    "nasnetmobile": ("NASNetMobile", 224, 32, "tf", 23, 0.744, 0.919, 5_300_000, 389, 27.0, 6.7, 5_326_716),
    "nasnetlarge": ("NASNetLarge", 331, 32, "tf", 343, 0.825, 0.96, 88_900_000, 533, 344.5, 20.0, 88_949_818),
    "efficientnetb0": ("EfficientNetB0", 224, 32, "none", 29, 0.771, 0.933, 5_300_000, 132, 46.0, 4.9, 5_330_571),
    "efficientnetb1": ("EfficientNetB1", 240, 32, "none", 31, 0.791, 0.944, 7_900_000, 186, 60.2, 5.6, 7_856_239),
    "efficientnetb2": ("EfficientNetB2", 260, 32, "none", 36, 0.801, 0.949, 9_200_000, 186, 80.8, 6.5, 9_177_569),
    "efficientnetb3": ("EfficientNetB3", 300, 32, "none", 48, 0.816, 0.957, 12_300_000, 210, 140.0, 8.8, 12_320_535),
    "efficientnetb4": ("EfficientNetB4", 380, 32, "none", 75, 0.829, 0.964, 19_500_000, 258, 308.3, 15.1, 19_466_823),
    "efficientnetb5": ("EfficientNetB5", 456, 32, "none", 118, 0.836, 0.967, 30_600_000, 312, 579.2, 25.3, 30_562_527),
    "efficientnetb6": ("EfficientNetB6", 528, 32, "none", 166, 0.84, 0.968, 43_300_000, 360, 958.1, 40.4, 43_265_143),
    "efficientnetb7": ("EfficientNetB7", 600, 32, "none", 256, 0.843, 0.97, 66_700_000, 438, 1578.9, 61.6, 66_658_687),
    "efficientnetv2b0": ("EfficientNetV2B0", 224, 32, "none", 29, 0.787, 0.943, 7_200_000, None, None, None, 7_200_312),
    "efficientnetv2b1": ("EfficientNetV2B1", 240, 32, "none", 34, 0.798, 0.95, 8_200_000, None, None, None, 8_212_124),
    "efficientnetv2b2": ("EfficientNetV2B2", 260, 32, "none", 42, 0.805, 0.951, 10_200_000, None, None, None, 10_178_374),
    "efficientnetv2b3": ("EfficientNetV2B3", 300, 32, "none", 59, 0.82, 0.958, 14_500_000, None, None, None, 14_467_622),
    "efficientnetv2s": ("EfficientNetV2S", 384, 32, "none", 88, 0.839, 0.967, 21_600_000, None, None, None, 21_612_360),
    "efficientnetv2m": ("EfficientNetV2M", 480, 32, "none", 220, 0.853, 0.974, 54_400_000, None, None, None, 54_431_388),
    "efficientnetv2l": ("EfficientNetV2L", 480, 32, "none", 479, 0.857, 0.975, 119_000_000, None, None, None, 119_027_848),
    "convnexttiny": ("ConvNeXtTiny", 224, 32, "none", 109.42, 0.813, None, 28_600_000, None, None, None, 28_589_128),
    "convnextsmall": ("ConvNeXtSmall", 224, 32, "none", 192.29, 0.823, None, 50_200_000, None, None, None, 50_223_688),
    "convnextbase": ("ConvNeXtBase", 224, 32, "none", 338.58, 0.853, None, 88_500_000, None, None, None, 88_591_464),
    "convnextlarge": ("ConvNeXtLarge", 224, 32, "none", 755.07, 0.863, None, 197_700_000, None, None, None, 197_767_336),
    "convnextxlarge": ("ConvNeXtXLarge", 224, 32, "none", 1310, 0.867, None, 350_100_000, None, None, None, 350_196_968),
}

KERAS_TABLE = {name: dict(zip(COLUMNS, row)) for name, row in ROWS.items()}
