"""The printable recovery kit: `kit create` writes one HTML page per
custodian (mode 0600) whose QR code, rendered and scanned (rsvg-convert and
zbarimg from scripts/setup.sh), is exactly the share; shares read back from
the printed codes restore the vault (backup drill); it prints on one A4 page."""
import os
import re
import stat
import subprocess
import unittest

from backuplib import KitVault


def scan_qr(svg, workdir, name):
    """Renders an inline SVG as a PNG, as a phone or a scanner would see the
    printed page, and returns what zbarimg decodes from it."""
    svg_path = os.path.join(workdir, name + ".svg")
    png_path = os.path.join(workdir, name + ".png")
    with open(svg_path, "w") as f:
        f.write(svg)
    subprocess.run(["rsvg-convert", "-w", "600", "-b", "white", "-o", png_path, svg_path], check=True)
    p = subprocess.run(["zbarimg", "--raw", "-q", png_path], capture_output=True, text=True)
    assert p.returncode == 0, f"zbarimg found no code: {p.stderr}"
    return p.stdout.strip()


class KitPage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.v = KitVault(synthea=False)
        cls.scans = os.path.join(cls.v.tmp, "scans")
        os.mkdir(cls.scans, 0o700)

    @classmethod
    def tearDownClass(cls):
        cls.v.close()

    def page(self, n):
        path = os.path.join(self.v.kit, f"share-{n}.html")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        with open(path, encoding="utf-8") as f:
            return f.read()

    def test_1_one_page_per_share_in_both_languages(self):
        for n in (1, 2, 3):
            html = self.page(n)
            with open(self.v.share(n)) as f:
                share = f.read().strip()
            self.assertIn(share, html)
            self.assertIn(f"Part {n} sur 3", html)
            self.assertIn(f"Share {n} of 3", html)
            self.assertIn("Procédure (français)", html)
            self.assertIn("Procedure (English)", html)
            self.assertIn("medvault backup drill", html)
            self.assertNotIn("<script", html)
        self.assertFalse(os.path.exists(os.path.join(self.v.kit, "share-4.html")))

    def test_3_prints_on_one_a4_page(self):
        # Headless Chromium (scripts/setup.sh) prints it as the browser of the
        # practice would: the PDF has exactly one page, A4 (595 x 842 pt).
        pdf = os.path.join(self.scans, "share-2.pdf")
        subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        "--user-data-dir=" + os.path.join(self.scans, "chromium"), "--print-to-pdf=" + pdf,
                        "--no-pdf-header-footer", os.path.join(self.v.kit, "share-2.html")],
                       capture_output=True, timeout=120, check=True)
        with open(pdf, "rb") as f:
            data = f.read()
        self.assertEqual(len(re.findall(rb"/Type\s*/Page\b", data)), 1)
        box = re.search(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)", data)
        self.assertEqual((round(float(box.group(1))), round(float(box.group(2)))), (595, 842))

    def test_2_printed_codes_scan_back_to_the_shares_and_restore(self):
        scanned = []
        for n in (1, 3):
            svg = re.search(r"<svg.*?</svg>", self.page(n), re.S).group(0)
            text = scan_qr(svg, self.scans, f"share-{n}")
            with open(self.v.share(n)) as f:
                self.assertEqual(text, f.read().strip())
            path = os.path.join(self.scans, f"scanned-{n}.txt")
            with open(path, "w") as f:
                f.write(text + "\n")
            scanned.append(path)
        repo = os.path.join(self.v.tmp, "repo")
        self.v.run("backup", "create", "--data", self.v.data, "--to", repo)
        p = self.v.run("backup", "drill", "--from", repo, "--share", scanned[0], "--share", scanned[1])
        self.assertIn("drill ok", p.stdout)


if __name__ == "__main__":
    unittest.main()
