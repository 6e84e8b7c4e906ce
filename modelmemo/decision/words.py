"""Small wording helpers shared by the decision modules' sentences (and the memo's): tasks and
languages by name, never by their codes."""

from __future__ import annotations


def join_and(names: list[str]) -> str:
    """"A", "A and B", "A, B and C"."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def sentence(notes: list[str], suffix: str = "") -> str:
    """Notes joined with semicolons, capitalised, with a full stop: one reason sentence."""
    text = "; ".join(notes) + suffix
    return text[:1].upper() + text[1:] + "."


# Task codes whose name is not the code itself (the schema's task ids; the others read as words).
TASK_LABELS = {"text-generation": "text generation", "image-generation": "image generation"}
LANGUAGE_NAMES = {
    "af": "Afrikaans", "am": "Amharic", "ar": "Arabic", "az": "Azerbaijani", "be": "Belarusian",
    "bg": "Bulgarian", "bn": "Bengali", "br": "Breton", "bs": "Bosnian", "ca": "Catalan", "cs": "Czech", "cy": "Welsh",
    "da": "Danish", "de": "German", "el": "Greek", "en": "English", "es": "Spanish", "et": "Estonian",
    "eu": "Basque", "fa": "Persian", "fi": "Finnish", "fr": "French", "ga": "Irish", "gl": "Galician",
    "gu": "Gujarati", "he": "Hebrew", "hi": "Hindi", "hr": "Croatian", "hu": "Hungarian", "hy": "Armenian",
    "id": "Indonesian", "is": "Icelandic", "it": "Italian", "ja": "Japanese", "ka": "Georgian",
    "kk": "Kazakh", "km": "Khmer", "kn": "Kannada", "ko": "Korean", "lo": "Lao", "lt": "Lithuanian", "lv": "Latvian",
    "mk": "Macedonian", "ml": "Malayalam", "mn": "Mongolian", "mr": "Marathi", "ms": "Malay",
    "my": "Burmese", "ne": "Nepali", "nl": "Dutch", "no": "Norwegian", "pa": "Punjabi", "pl": "Polish",
    "pt": "Portuguese", "ro": "Romanian", "ru": "Russian", "si": "Sinhala", "sk": "Slovak",
    "sl": "Slovenian", "sq": "Albanian", "sr": "Serbian", "sv": "Swedish", "sw": "Swahili", "ta": "Tamil",
    "te": "Telugu", "th": "Thai", "tl": "Tagalog", "tr": "Turkish", "uk": "Ukrainian", "ur": "Urdu",
    "uz": "Uzbek", "vi": "Vietnamese", "yo": "Yoruba", "zh": "Chinese", "zu": "Zulu",
}


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(str(code).lower(), f"language code {code}")


def task_label(task: str | None) -> str:
    return TASK_LABELS.get(task or "", task or "")


def task_names(tasks) -> str:
    """"chat, text generation": a list of task codes as words."""
    return ", ".join(task_label(t) for t in tasks)


def language_names(codes) -> str:
    return ", ".join(language_name(c) for c in codes)
