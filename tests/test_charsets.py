"""Guessing the encoding of feeds that declare none (topics/charsets.py)."""

from django.test import SimpleTestCase

from topics.charsets import with_detected_charset

RUSSIAN = (
    "<rss version='2.0'><channel><title>Новости</title><item><guid>1</guid>"
    "<title>Налоги для малого бизнеса снизят с весны</title><description>Министр "
    "экономики рассказал журналистам, что программа начнёт работать в апреле."
    "</description></item></channel></rss>"
)
PORTUGUESE = (
    "<rss version='2.0'><channel><title>Notícias</title><item><guid>1</guid>"
    "<title>Ações sobem após anúncio</title><description>O preço médio caiu às 18h."
    "</description></item></channel></rss>"
)


class WithDetectedCharsetTests(SimpleTestCase):
    def test_undeclared_cyrillic_single_byte_encodings_are_named(self) -> None:
        for encoding, expected in (("koi8-r", "koi8_r"), ("cp1251", "cp1251")):
            with self.subTest(encoding=encoding):
                body = RUSSIAN.encode(encoding)

                self.assertEqual(
                    with_detected_charset(body, "application/rss+xml"),
                    f"application/rss+xml; charset={expected}",
                )

    def test_undeclared_western_text_is_read_as_windows_1252(self) -> None:
        # The detector alone may say cp1250 or cp1257, which read these bytes as cleanly.
        for encoding in ("latin-1", "cp1252"):
            with self.subTest(encoding=encoding):
                body = PORTUGUESE.encode(encoding)

                self.assertEqual(
                    with_detected_charset(body, "text/xml"), "text/xml; charset=cp1252"
                )

    def test_a_missing_content_type_becomes_xml_with_the_charset(self) -> None:
        body = RUSSIAN.encode("koi8-r")

        self.assertEqual(with_detected_charset(body, ""), "application/xml; charset=koi8_r")

    def test_a_charset_in_the_http_header_that_reads_cleanly_is_left_to_the_parser(self) -> None:
        for encoding, content_type in (
            ("koi8-r", "application/xml;Charset=koi8-r"),
            ("cp1251", 'text/xml; charset="windows-1251"'),
        ):
            with self.subTest(content_type=content_type):
                body = RUSSIAN.encode(encoding)

                self.assertEqual(with_detected_charset(body, content_type), content_type)

    def test_a_correct_label_wins_over_the_detectors_first_choice(self) -> None:
        # The detector prefers cp1252 for these bytes; the label reads them just as well.
        body = PORTUGUESE.encode("latin-1")

        self.assertEqual(
            with_detected_charset(body, "text/xml; charset=iso-8859-1"),
            "text/xml; charset=iso-8859-1",
        )

    def test_a_wrong_single_byte_label_gives_way_to_the_detected_encoding(self) -> None:
        for encoding, label, expected in (
            ("koi8-r", "windows-1251", "koi8_r"),
            ("cp1251", "koi8-r", "cp1251"),
            ("cp1251", "iso-8859-1", "cp1251"),
            ("koi8-r", "us-ascii", "koi8_r"),
        ):
            with self.subTest(encoding=encoding, label=label):
                body = RUSSIAN.encode(encoding)

                self.assertEqual(
                    with_detected_charset(body, f"text/xml; charset={label}"),
                    f"text/xml; charset={expected}",
                )

    def test_a_wrong_label_in_the_xml_declaration_gives_way_too(self) -> None:
        body = b"<?xml version='1.0' encoding='windows-1251'?>" + RUSSIAN.encode("koi8-r")

        self.assertEqual(with_detected_charset(body, "text/xml"), "text/xml; charset=koi8_r")

    def test_utf8_bytes_under_a_single_byte_label_are_named_utf8(self) -> None:
        body = RUSSIAN.encode()

        self.assertEqual(
            with_detected_charset(body, "text/xml; charset=iso-8859-1"),
            "text/xml; charset=utf_8",
        )

    def test_a_utf8_label_on_bytes_that_are_not_utf8_counts_as_no_label(self) -> None:
        header = with_detected_charset(RUSSIAN.encode("cp1251"), "text/xml; charset=utf-8")
        prolog = b"<?xml version='1.0' encoding='UTF8'?>" + RUSSIAN.encode("koi8-r")
        western = PORTUGUESE.encode("cp1252")

        self.assertEqual(header, "text/xml; charset=cp1251")
        self.assertEqual(with_detected_charset(prolog, "text/xml"), "text/xml; charset=koi8_r")
        self.assertEqual(
            with_detected_charset(western, "application/xml; charset=utf-8"),
            "application/xml; charset=cp1252",
        )

    def test_an_xml_declaration_or_a_utf16_bom_is_left_to_the_parser(self) -> None:
        declared = b"<?xml version='1.0' encoding='koi8-r'?>" + RUSSIAN.encode("koi8-r")
        utf16 = "\ufeff".encode("utf-16-le") + RUSSIAN.encode("utf-16-le")

        self.assertEqual(with_detected_charset(declared, "text/xml"), "text/xml")
        self.assertEqual(with_detected_charset(utf16, "text/xml"), "text/xml")

    def test_utf8_bytes_need_no_guess(self) -> None:
        body = b"<?xml version='1.0'?>" + RUSSIAN.encode()

        self.assertEqual(with_detected_charset(body, "text/xml"), "text/xml")
