#include "vault/kit_page.h"

#include "auth/totp.h"

namespace medvault::vault {
namespace {

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

// {{...}} placeholders are filled in by kit_share_page; everything else is
// literal. Commands are shown with the share files named as the custodians
// bring them.
constexpr const char* kPage = R"(<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>medvault — part {{N}}/{{n}} — share {{N}}/{{n}}</title>
<style>
@page { size: A4; margin: 12mm; }
* { box-sizing: border-box; }
body { font: 9pt/1.25 "DejaVu Sans", Arial, sans-serif; color: #000; margin: 0; }
p { margin: 1mm 0; }
h1 { font-size: 15pt; margin: 0 0 2mm; }
h2 { font-size: 11pt; margin: 3mm 0 1mm; }
.head { display: flex; gap: 6mm; align-items: flex-start; border: 0.5mm solid #000; padding: 3mm; }
.qr { width: 55mm; height: 55mm; flex: none; }
.qr svg { width: 100%; height: 100%; }
.share { font: 9pt/1.3 "DejaVu Sans Mono", monospace; word-break: break-all; border: 0.3mm dashed #000; padding: 2mm; margin: 2mm 0 0; }
.cols { display: flex; gap: 6mm; }
.cols > section { flex: 1; }
ol { margin: 0; padding-left: 5mm; }
li { margin: 0 0 1mm; }
code { font: 8.5pt "DejaVu Sans Mono", monospace; }
.contacts { display: grid; grid-template-columns: 1fr 1fr; gap: 0 6mm; }
.fill { border-bottom: 0.2mm solid #000; height: 7mm; }
.warn { font-weight: bold; margin: 2mm 0; }
@media print { body { -webkit-print-color-adjust: exact; print-color-adjust: exact; } }
</style>
</head>
<body>
<div class="head">
<div class="qr">{{QR}}</div>
<div>
<h1>Kit de récupération medvault<br>medvault recovery kit</h1>
<p>Coffre / Vault : <b>{{VAULT}}</b></p>
<p><b>Part {{N}} sur {{n}}</b> — {{k}} parts quelconques ouvrent le coffre.<br>
<b>Share {{N}} of {{n}}</b> — any {{k}} shares open the vault.</p>
<p class="share" id="share">{{SHARE}}</p>
</div>
</div>
<p class="warn">CONFIDENTIEL : ne pas photographier, copier, envoyer par courriel ni ranger avec une sauvegarde. —
CONFIDENTIAL: do not photograph, copy, e-mail or store with a backup.</p>
<div class="cols">
<section lang="fr">
<h2>Procédure (français)</h2>
<ol>
<li>Vous êtes dépositaire de cette part. Gardez cette page sous enveloppe scellée, en lieu sûr, séparée des autres parts. Moins de {{k}} parts ne révèlent rien.</li>
<li>En cas de sinistre (serveur perdu, volé, chiffré par un rançongiciel) ou d'exercice de restauration, le cabinet vous appelle. Appelez vous-même les contacts ci-dessous si vous apprenez un sinistre.</li>
<li>Pour restaurer, {{k}} dépositaires remettent leur part. Recopiez (ou scannez le QR code de) la ligne encadrée dans un fichier <code>share-{{N}}.txt</code> sur la machine de restauration, puis :<br>
<code>medvault backup restore --from CIBLE --data NOUVEAU_DOSSIER --share share-{{N}}.txt --share share-M.txt</code><br>
(CIBLE : le dossier ou l'adresse <code>sftp://</code> des sauvegardes.) La commande vérifie le coffre restauré et son journal d'audit.</li>
<li>Exercice régulier (au moins une fois par an) : <code>medvault backup drill --from CIBLE --share ...</code> restaure dans un dossier temporaire, vérifie et mesure la durée de reprise.</li>
<li>Ensuite, effacez les fichiers de part de la machine. Si une part est perdue ou exposée, le cabinet crée un nouveau kit (<code>medvault kit create</code>) : les anciennes parts cessent de fonctionner.</li>
</ol>
</section>
<section lang="en">
<h2>Procedure (English)</h2>
<ol>
<li>You are the custodian of this share. Keep this page in a sealed envelope, in a safe place, apart from the other shares. Fewer than {{k}} shares reveal nothing.</li>
<li>After a disaster (server lost, stolen, or encrypted by ransomware) or for a restore drill, the practice will call you. Call the contacts below yourself if you learn of a disaster.</li>
<li>To restore, {{k}} custodians hand over their shares. Type (or scan the QR code of) the boxed line into a file <code>share-{{N}}.txt</code> on the recovery machine, then run:<br>
<code>medvault backup restore --from TARGET --data NEWDIR --share share-{{N}}.txt --share share-M.txt</code><br>
(TARGET: the backup directory or <code>sftp://</code> address.) The command checks the restored vault and its audit log.</li>
<li>Regular drill (at least once a year): <code>medvault backup drill --from TARGET --share ...</code> restores into a scratch directory, checks it and reports the recovery time.</li>
<li>Afterwards, delete the share files from the machine. If a share is lost or exposed, the practice makes a new kit (<code>medvault kit create</code>): the old shares stop working.</li>
</ol>
</section>
</div>
<h2>Contacts — à remplir à la main / fill in by hand</h2>
<div class="contacts">
<div><p>Responsable du cabinet / Practice manager :</p><div class="fill"></div></div>
<div><p>Prestataire informatique / IT provider :</p><div class="fill"></div></div>
<div><p>Autres dépositaires / Other custodians :</p><div class="fill"></div></div>
<div><p>Sauvegardes (CIBLE) / Backups (TARGET) :</p><div class="fill"></div></div>
</div>
</body>
</html>
)";

}  // namespace

Result<std::string> kit_share_page(const std::string& vault_id, int number, int n, int k,
                                   const std::string& share_text) {
  MV_ASSIGN(std::string svg, auth::qr_svg(share_text));
  // Inline SVG: drop the XML declaration of the stand-alone file.
  if (auto at = svg.find("<svg"); at != std::string::npos) svg.erase(0, at);
  svg.insert(4, " role=\"img\" aria-label=\"QR\"");
  std::string page = kPage;
  replace_all(page, "{{QR}}", svg);
  replace_all(page, "{{VAULT}}", escape(vault_id));
  replace_all(page, "{{SHARE}}", escape(share_text));
  replace_all(page, "{{N}}", std::to_string(number));
  replace_all(page, "{{n}}", std::to_string(n));
  replace_all(page, "{{k}}", std::to_string(k));
  return page;
}

}  // namespace medvault::vault
