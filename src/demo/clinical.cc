// Clinical code tables of the demo generator: SNOMED CT conditions and
// encounter types, LOINC, RxNorm medications and CVX vaccines, as they occur
// in primary care records (and in Synthea's samples).
#include <cstddef>
#include <string_view>

#include "demo/vocabulary.h"

namespace medvault::demo::vocab {
namespace {

constexpr Medication kMedications[] = {
    // lisinopril
    {{kRxNorm, "314076", "lisinopril 10 MG Oral Tablet"}, "Lisinopril 10 mg tablet",
     "Lisinopril 10 mg, comprimé", "Take 1 tablet by mouth once daily.",
     "1 comprimé par jour, le matin.", 1, false, 0},
    // amlodipine
    {{kRxNorm, "197361", "amlodipine 5 MG Oral Tablet"}, "Amlodipine 5 mg tablet",
     "Amlodipine 5 mg, comprimé", "Take 1 tablet by mouth once daily.",
     "1 comprimé par jour.", 1, false, 0},
    // hydrochlorothiazide
    {{kRxNorm, "310798", "Hydrochlorothiazide 25 MG Oral Tablet"},
     "Hydrochlorothiazide 25 mg tablet", "Hydrochlorothiazide 25 mg, comprimé",
     "Take 1 tablet by mouth every morning.", "1 comprimé chaque matin.", 1, false, 0},
    // metformin
    {{kRxNorm, "860975", "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet"},
     "Metformin 500 mg modified-release tablet", "Metformine 500 mg LP, comprimé",
     "Take 1 tablet by mouth with the evening meal.",
     "1 comprimé par jour au cours du repas du soir.", 1, false, 0},
    // fluticasone inhaler
    {{kRxNorm, "895994", "120 ACTUAT fluticasone propionate 0.044 MG/ACTUAT Metered Dose Inhaler"},
     "Fluticasone 44 micrograms inhaler", "Fluticasone 44 µg/dose, suspension pour inhalation",
     "Inhale 2 puffs twice daily. Rinse mouth after use.",
     "2 bouffées matin et soir. Se rincer la bouche après usage.", 2, false, 0},
    // albuterol inhaler
    {{kRxNorm, "745679", "200 ACTUAT Albuterol 0.09 MG/ACTUAT Metered Dose Inhaler"},
     "Salbutamol 100 micrograms inhaler", "Salbutamol 100 µg/dose, suspension pour inhalation",
     "Inhale 1 to 2 puffs as needed for shortness of breath.",
     "1 à 2 bouffées en cas de gêne respiratoire.", 4, true, 0},
    // sertraline
    {{kRxNorm, "312941", "sertraline 50 MG Oral Tablet"}, "Sertraline 50 mg tablet",
     "Sertraline 50 mg, comprimé", "Take 1 tablet by mouth once daily in the morning.",
     "1 comprimé le matin.", 1, false, 0},
    // simvastatin
    {{kRxNorm, "314231", "Simvastatin 10 MG Oral Tablet"}, "Simvastatin 10 mg tablet",
     "Simvastatine 10 mg, comprimé", "Take 1 tablet by mouth at bedtime.",
     "1 comprimé le soir au coucher.", 1, false, 0},
    // atorvastatin
    {{kRxNorm, "259255", "atorvastatin 80 MG Oral Tablet"}, "Atorvastatin 80 mg tablet",
     "Atorvastatine 80 mg, comprimé", "Take 1 tablet by mouth once daily.",
     "1 comprimé par jour.", 1, false, 0},
    // levothyroxine
    {{kRxNorm, "966222", "levothyroxine sodium 0.05 MG Oral Tablet"},
     "Levothyroxine 50 micrograms tablet", "Lévothyroxine 50 µg, comprimé",
     "Take 1 tablet on an empty stomach 30 minutes before breakfast.",
     "1 comprimé le matin à jeun, 30 minutes avant le petit-déjeuner.", 1, false, 0},
    // acetaminophen
    {{kRxNorm, "313782", "Acetaminophen 325 MG Oral Tablet"}, "Paracetamol 325 mg tablet",
     "Paracétamol 325 mg, comprimé",
     "Take 2 tablets every 6 hours as needed for pain or fever. Do not exceed 8 tablets a day.",
     "2 comprimés toutes les 6 heures si douleur ou fièvre, sans dépasser 8 comprimés par jour.",
     4, true, 5},
    // ibuprofen
    {{kRxNorm, "198405", "Ibuprofen 100 MG Oral Tablet"}, "Ibuprofen 100 mg tablet",
     "Ibuprofène 100 mg, comprimé",
     "Take 2 tablets up to three times daily with food as needed for pain.",
     "2 comprimés jusqu'à 3 fois par jour au cours des repas si douleur.", 3, true, 5},
    // amoxicillin
    {{kRxNorm, "308192", "Amoxicillin 500 MG Oral Tablet"}, "Amoxicillin 500 mg tablet",
     "Amoxicilline 500 mg, comprimé", "Take 1 tablet by mouth three times daily for 7 days.",
     "1 comprimé 3 fois par jour pendant 7 jours.", 3, false, 7},
    // nitrofurantoin
    {{kRxNorm, "311995", "NITROFURANTOIN, MACROCRYSTALS 50 MG Oral Capsule"},
     "Nitrofurantoin 50 mg capsule", "Nitrofurantoïne 50 mg, gélule",
     "Take 1 capsule four times daily with food for 5 days.",
     "1 gélule 4 fois par jour au cours des repas pendant 5 jours.", 4, false, 5},
    // penicillin V
    {{kRxNorm, "834061", "Penicillin V Potassium 250 MG Oral Tablet"},
     "Phenoxymethylpenicillin 250 mg tablet", "Phénoxyméthylpénicilline 250 mg, comprimé",
     "Take 2 tablets twice daily for 10 days.", "2 comprimés matin et soir pendant 10 jours.",
     2, false, 10},
    // warfarin
    {{kRxNorm, "855332", "Warfarin Sodium 5 MG Oral Tablet"}, "Warfarin 5 mg tablet",
     "Warfarine 5 mg, comprimé", "Take 1 tablet in the evening; dose adjusted to INR.",
     "1 comprimé le soir, dose adaptée selon l'INR.", 1, false, 0},
};
static_assert(std::size(kMedications) == static_cast<size_t>(Med::none));

constexpr Med N = Med::none;

constexpr ConditionKind kConditions[] = {
    {{kSnomed, "59621000", "Essential hypertension (disorder)"}, "Essential hypertension",
     "Hypertension artérielle essentielle", true, false, 25, {0, 60, 250, 450},
     {Med::lisinopril, Med::amlodipine, Med::hydrochlorothiazide}, N},
    {{kSnomed, "44054006", "Diabetes mellitus type 2 (disorder)"}, "Type 2 diabetes",
     "Diabète de type 2", true, false, 30, {0, 15, 80, 160}, {Med::metformin, N, N}, N},
    {{kSnomed, "15777000", "Prediabetes (finding)"}, "Prediabetes", "Prédiabète", true, false, 25,
     {0, 30, 90, 120}, {N, N, N}, N},
    {{kSnomed, "195967001", "Asthma (disorder)"}, "Asthma", "Asthme", true, false, 3,
     {80, 70, 60, 50}, {Med::fluticasone_inhaler, N, N}, Med::albuterol_inhaler},
    {{kSnomed, "35489007", "Depressive disorder (disorder)"}, "Depressive disorder",
     "Trouble dépressif", true, true, 14, {20, 80, 80, 60}, {Med::sertraline, N, N}, N},
    {{kSnomed, "197480006", "Anxiety disorder (disorder)"}, "Anxiety disorder",
     "Trouble anxieux", true, true, 12, {20, 70, 60, 40}, {N, N, N}, N},
    {{kSnomed, "55822004", "Hyperlipidemia (disorder)"}, "Hyperlipidaemia", "Hyperlipidémie",
     true, false, 30, {0, 30, 150, 250}, {Med::simvastatin, Med::atorvastatin, N}, N},
    {{kSnomed, "40930008", "Hypothyroidism (disorder)"}, "Hypothyroidism", "Hypothyroïdie",
     true, false, 10, {5, 20, 50, 70}, {Med::levothyroxine, N, N}, N},
    {{kSnomed, "239873007", "Osteoarthritis of knee (disorder)"}, "Osteoarthritis of the knee",
     "Gonarthrose", true, false, 40, {0, 5, 80, 200}, {Med::acetaminophen, N, N}, N},
    {{kSnomed, "37796009", "Migraine (disorder)"}, "Migraine", "Migraine", true, false, 10,
     {30, 100, 70, 30}, {Med::ibuprofen, N, N}, N},
    {{kSnomed, "235595009", "Gastroesophageal reflux disease (disorder)"},
     "Gastro-oesophageal reflux disease", "Reflux gastro-œsophagien", true, false, 16,
     {10, 60, 100, 120}, {N, N, N}, N},
    {{kSnomed, "24079001", "Atopic dermatitis (disorder)"}, "Atopic dermatitis",
     "Dermatite atopique", true, false, 0, {120, 40, 20, 10}, {N, N, N}, N},
    {{kSnomed, "13645005", "Chronic obstructive lung disease (disorder)"},
     "Chronic obstructive pulmonary disease", "Bronchopneumopathie chronique obstructive", true,
     false, 40, {0, 0, 40, 90}, {Med::albuterol_inhaler, N, N}, N},
    {{kSnomed, "49436004", "Atrial fibrillation (disorder)"}, "Atrial fibrillation",
     "Fibrillation atriale", true, false, 50, {0, 0, 15, 90}, {Med::warfarin, N, N}, N},
    {{kSnomed, "278860009", "Chronic low back pain (finding)"}, "Chronic low back pain",
     "Lombalgie chronique", true, false, 20, {0, 60, 100, 100}, {Med::ibuprofen, N, N}, N},
    // acute
    {{kSnomed, "195662009", "Acute viral pharyngitis (disorder)"}, "Acute viral pharyngitis",
     "Pharyngite virale aiguë", false, false, 0, {30, 25, 20, 15}, {Med::acetaminophen, N, N}, N},
    {{kSnomed, "444814009", "Viral sinusitis (disorder)"}, "Viral sinusitis", "Sinusite virale",
     false, false, 3, {15, 25, 25, 20}, {Med::acetaminophen, N, N}, N},
    {{kSnomed, "10509002", "Acute bronchitis (disorder)"}, "Acute bronchitis", "Bronchite aiguë",
     false, false, 0, {15, 15, 20, 25}, {Med::acetaminophen, N, N}, N},
    {{kSnomed, "65363002", "Otitis media (disorder)"}, "Otitis media", "Otite moyenne aiguë",
     false, false, 0, {40, 3, 2, 1}, {Med::amoxicillin, N, N}, N},
    {{kSnomed, "301011002", "Escherichia coli urinary tract infection (disorder)"},
     "E. coli urinary tract infection", "Infection urinaire à E. coli", false, false, 2,
     {5, 15, 15, 20}, {Med::nitrofurantoin, N, N}, N},
    {{kSnomed, "44465007", "Sprain of ankle (disorder)"}, "Ankle sprain",
     "Entorse de la cheville", false, false, 4, {10, 15, 8, 4}, {Med::ibuprofen, N, N}, N},
    {{kSnomed, "840539006", "COVID-19 (disorder)"}, "COVID-19", "COVID-19", false, false, 0,
     {4, 8, 8, 10}, {Med::acetaminophen, N, N}, N},
    {{kSnomed, "43878008", "Streptococcal sore throat (disorder)"}, "Streptococcal sore throat",
     "Angine streptococcique", false, false, 3, {25, 10, 5, 3}, {Med::penicillin_v, N, N}, N},
};
static_assert(std::size(kConditions) == static_cast<size_t>(Cond::count));

constexpr Code kSneezing{kSnomed, "76067001", "Sneezing (finding)"};
constexpr Code kWheal{kSnomed, "247472004", "Wheal (finding)"};
constexpr Code kAnaphylaxis{kSnomed, "39579001", "Anaphylaxis (disorder)"};
constexpr Code kRash{kSnomed, "271807003", "Eruption of skin (disorder)"};
constexpr Code kCough{kSnomed, "49727002", "Cough (finding)"};

constexpr AllergyKind kAllergies[] = {
    {{kSnomed, "84489001", "Mold (organism)"}, "Mould", "Moisissures", "environment", kSneezing},
    {{kRxNorm, "1191", "Aspirin"}, "Aspirin", "Aspirine", "medication", kWheal},
    {{kSnomed, "442571000124108", "Tree nut (substance)"}, "Tree nuts", "Fruits à coque", "food",
     kAnaphylaxis},
    {{kSnomed, "111088007", "Latex (substance)"}, "Latex", "Latex", "environment", kRash},
    {{kSnomed, "264287008", "Animal dander (substance)"}, "Animal dander", "Squames d'animaux",
     "environment", kCough},
    {{kSnomed, "260147004", "House dust mite (organism)"}, "House dust mite", "Acariens",
     "environment", kSneezing},
    {{kSnomed, "288328004", "Bee venom (substance)"}, "Bee venom", "Venin d'abeille",
     "environment", kAnaphylaxis},
    {{kSnomed, "782576004", "Tree pollen (substance)"}, "Tree pollen", "Pollen d'arbres",
     "environment", kSneezing},
    {{kSnomed, "102263004", "Eggs (edible) (substance)"}, "Eggs", "Œufs", "food", kWheal},
    {{kRxNorm, "10831", "Sulfamethoxazole / Trimethoprim"}, "Co-trimoxazole", "Cotrimoxazole",
     "medication", kRash},
    {{kRxNorm, "7980", "Penicillin G"}, "Penicillin", "Pénicilline", "medication", kWheal},
};

constexpr VaccineKind kVaccines[] = {
    {{kCvx, "140", "Influenza, seasonal, injectable, preservative free"},
     "Vaccin contre la grippe saisonnière"},
    {{kCvx, "208",
      "SARS-COV-2 (COVID-19) vaccine, mRNA, spike protein, LNP, preservative free, 30 mcg/0.3mL dose"},
     "Vaccin ARNm contre la COVID-19"},
    {{kCvx, "113", "Td (adult), 5 Lf tetanus toxoid, preservative free, adsorbed"},
     "Rappel diphtérie-tétanos (dT)"},
    {{kCvx, "33", "pneumococcal polysaccharide vaccine, 23 valent"},
     "Vaccin pneumococcique polyosidique 23-valent"},
    {{kCvx, "20", "DTaP"}, "Vaccin diphtérie-tétanos-coqueluche (DTCa)"},
    {{kCvx, "10", "IPV"}, "Vaccin poliomyélitique inactivé"},
    {{kCvx, "03", "MMR"}, "Vaccin rougeole-oreillons-rubéole (ROR)"},
    {{kCvx, "21", "varicella"}, "Vaccin contre la varicelle"},
};
static_assert(std::size(kVaccines) == static_cast<size_t>(Vaccine::count));

constexpr VisitKind kVisits[] = {
    {{kSnomed, "185349003", "Encounter for check up (procedure)"}, "Check-up",
     "Consultation de contrôle", false},
    {{kSnomed, "185347001", "Encounter for problem (procedure)"}, "Consultation for a new problem",
     "Consultation pour un nouveau problème", false},
    {{kSnomed, "185345009", "Encounter for symptom (procedure)"}, "Visit for symptoms",
     "Consultation pour symptômes", false},
    {{kSnomed, "390906007", "Follow-up encounter (procedure)"}, "Follow-up visit",
     "Consultation de suivi", false},
    {{kSnomed, "410620009", "Well child visit (procedure)"}, "Well child visit",
     "Examen de santé de l'enfant", false},
    {{kSnomed, "448337001", "Telemedicine consultation with patient (procedure)"},
     "Telemedicine consultation", "Téléconsultation", true},
};
static_assert(std::size(kVisits) == static_cast<size_t>(Visit::count));

constexpr Sentence kSubjective[] = {
    {"Patient reports improved sleep.", "{P} signale une amélioration du sommeil."},
    {"No new complaints since the last visit.",
     "Pas de nouvelle plainte depuis la dernière consultation."},
    {"Patient reports mild fatigue over the past few weeks.",
     "{P} se dit fatigué{e} depuis quelques semaines."},
    {"Occasional headaches, relieved by rest.", "Céphalées occasionnelles, soulagées par le repos."},
    {"Appetite is good and weight is stable.", "Bon appétit, poids stable."},
    {"Tolerating the treatment well, no side effects reported.",
     "Bonne tolérance du traitement, pas d'effet indésirable signalé.", true},
    {"Reports increased stress at work.", "{P} rapporte un stress professionnel accru.", false, true},
    {"Walks thirty minutes most days.", "Marche trente minutes la plupart des jours.", false, true},
    {"Denies chest pain or shortness of breath.", "Pas de douleur thoracique ni d'essoufflement."},
    {"Sleeps poorly and wakes up several times a night.",
     "Sommeil de mauvaise qualité, réveils nocturnes fréquents."},
    {"Has reduced salt and sugar intake as advised.",
     "A réduit sa consommation de sel et de sucre comme conseillé.", false, true},
    {"Stopped smoking six months ago.", "Sevrage tabagique depuis six mois.", false, true},
    {"Mild joint pain in the morning.", "Douleurs articulaires modérées le matin.", false, true},
    {"Feels well overall.", "{P} se sent bien dans l'ensemble."},
};

constexpr Sentence kPlan[] = {
    {"Continue current treatment.", "Poursuite du traitement actuel.", true},
    {"Lifestyle advice given: balanced diet and regular physical activity.",
     "Conseils hygiéno-diététiques : alimentation équilibrée et activité physique régulière."},
    {"Blood tests ordered.", "Bilan sanguin prescrit."},
    {"Return if symptoms worsen.", "Reconsulter en cas d'aggravation des symptômes."},
    {"Review in three months.", "Revoir dans trois mois."},
    {"Review in six months.", "Revoir dans six mois."},
    {"Vaccination status reviewed and up to date.", "Statut vaccinal vérifié, à jour."},
};

}  // namespace

const Medication& medication(Med m) { return kMedications[static_cast<size_t>(m)]; }
const ConditionKind& condition(Cond c) { return kConditions[static_cast<size_t>(c)]; }
std::span<const AllergyKind> allergies() { return kAllergies; }
const VaccineKind& vaccine(Vaccine v) { return kVaccines[static_cast<size_t>(v)]; }
const VisitKind& visit(Visit v) { return kVisits[static_cast<size_t>(v)]; }
std::span<const Sentence> note_subjective() { return kSubjective; }
std::span<const Sentence> note_plan() { return kPlan; }

}  // namespace medvault::demo::vocab
