"""Files people attach to what they write (messages now, course discussions later).

``checks.py`` proves an upload is what it claims (a PDF that opens, an image that decodes, audio
that plays and is short) and strips what should not travel (photo metadata); ``service.py``
stores it in the private media storage and keeps its row; the feature that uses an attachment
binds it and decides who may download it.
"""
