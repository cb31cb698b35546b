"""Plain text out of feed HTML (topics/text.py): what clustering and summaries read."""

from django.test import SimpleTestCase

from topics.text import collapse_whitespace, html_to_text, sanitize_html, sanitized_html_to_text

HOSTILE = (
    "<head><title>Page title</title></head>"
    "<p onclick='steal()'>First<script>var x = '</p>';</script> para</p>"
    "<a href='javascript:alert(1)' title='1 > 0 \"quoted\"'>link</a>"
    "<style>p { color: red }</style><!-- a <p>comment</p> -->"
    "<form action='https://evil.example'><input value='card'></form>"
    "<iframe src='https://x.example'>frame text</iframe><svg><text>drawn</text></svg>"
    "<ul><li>one</li><li>two</li></ul>tail"
)


class HtmlToTextTests(SimpleTestCase):
    def test_block_elements_keep_words_apart_and_inline_ones_do_not(self) -> None:
        html = "<p>one</p><p>two</p><li>three</li><br>four<div>five</div>un<b>believ</b>able"

        self.assertEqual(html_to_text(html), "one two three four five unbelievable")

    def test_entities_are_decoded_once(self) -> None:
        html = "<p>&lt;tag&gt; &amp;amp; caf&eacute;&nbsp;&#8220;q&#x201d;</p>"

        self.assertEqual(html_to_text(html), "<tag> &amp; café “q”")

    def test_plain_text_with_angle_brackets_survives(self) -> None:
        self.assertEqual(html_to_text("a < b and c > d"), "a < b and c > d")

    def test_scripts_styles_comments_titles_and_embeds_leave_no_text(self) -> None:
        self.assertEqual(html_to_text(HOSTILE), "First para link one two tail")

    def test_control_characters_are_dropped(self) -> None:
        self.assertEqual(html_to_text("<p>a\x00b\x1bc</p>\x7f"), "abc")

    def test_empty_input_gives_empty_text(self) -> None:
        self.assertEqual(html_to_text(""), "")
        self.assertEqual(sanitized_html_to_text(""), "")


class SanitizedHtmlToTextTests(SimpleTestCase):
    def test_it_reads_sanitized_html_as_html_to_text_reads_the_original(self) -> None:
        samples = [
            HOSTILE,
            "<figure><img src='/a.jpg' alt='a > b'><figcaption>Cap</figcaption></figure>end",
            "<table><tr><td>1</td><td>2</td></tr></table><pre>x  y</pre>",
            "<p>Fish &amp; chips &lt;3</p><blockquote>quote</blockquote>",
            "<a href='https://a.example/?q=a>b&amp;c=\"d\"'>odd href</a> after",
        ]
        for html in samples:
            with self.subTest(html=html):
                sanitized = sanitize_html(html, "https://a.example/story")

                self.assertEqual(sanitized_html_to_text(sanitized), html_to_text(html))

    def test_attribute_values_containing_angle_brackets_are_not_text(self) -> None:
        sanitized = sanitize_html('<a href="https://a.example/" title="x > y">link</a> after')

        self.assertEqual(sanitized_html_to_text(sanitized), "link after")


class CollapseWhitespaceTests(SimpleTestCase):
    def test_any_unicode_whitespace_run_becomes_one_space(self) -> None:
        self.assertEqual(collapse_whitespace(" a\u00a0\u2003b\n\t c\u3000 "), "a b c")
