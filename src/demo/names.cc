// Names and places of the demo generator. See vocabulary.h for where they
// come from.
#include <string_view>

#include "demo/vocabulary.h"

namespace medvault::demo::vocab {
namespace {

constexpr std::string_view kFrenchMale[] = {
    "Jean", "Pierre", "Michel", "André", "Philippe", "Alain", "Bernard", "Jacques",
    "François", "Daniel", "Patrick", "Nicolas", "Christophe", "Christian", "Éric",
    "Frédéric", "Laurent", "Stéphane", "David", "Julien", "Olivier", "Sébastien",
    "Thierry", "Pascal", "Dominique", "Gérard", "René", "Claude", "Marcel", "Louis",
    "Paul", "Henri", "Roger", "Georges", "Yves", "Guy", "Robert", "Maurice",
    "Raymond", "Lucien", "Émile", "Gilles", "Serge", "Didier", "Bruno", "Vincent",
    "Thomas", "Alexandre", "Antoine", "Maxime", "Romain", "Guillaume", "Mathieu",
    "Jérôme", "Cédric", "Fabien", "Arnaud", "Benoît", "Rémi", "Hugo", "Lucas",
    "Théo", "Léo", "Gabriel", "Raphaël", "Arthur", "Jules", "Adam", "Maël", "Noé",
    "Nathan", "Enzo", "Mathis", "Tom", "Clément", "Baptiste", "Quentin", "Valentin",
    "Florian", "Kévin", "Jérémy", "Anthony", "Damien", "Xavier", "Hervé", "Joël",
    "Noël", "Gaël", "Loïc", "Yannick", "Régis", "Sylvain", "Ludovic", "Grégoire",
    "Édouard", "Étienne", "Félix", "Gaspard", "Aurélien", "Bastien", "Corentin",
    "Alexis", "Samuel", "Simon", "Victor", "Martin", "Benjamin", "Adrien",
    "Jonathan", "Cyril", "Franck", "Marc", "Luc", "Jean-Pierre", "Jean-Claude",
    "Jean-Luc", "Jean-François", "Jean-Marc", "Jean-Louis", "Jean-Paul",
    "Jean-Michel", "Pierre-Yves", "Marc-Antoine", "Aimé", "Gaëtan", "Honoré",
    "Ambroise", "Anatole", "Armand", "Bertrand", "Denis", "Fernand", "Gustave",
    "Hippolyte", "Jérémie", "Léon", "Lionel", "Marius", "Mathéo",
};

constexpr std::string_view kFrenchFemale[] = {
    "Marie", "Nathalie", "Isabelle", "Sylvie", "Catherine", "Françoise", "Monique",
    "Christine", "Sandrine", "Valérie", "Véronique", "Nicole", "Stéphanie", "Sophie",
    "Céline", "Chantal", "Patricia", "Anne", "Brigitte", "Julie", "Aurélie",
    "Émilie", "Hélène", "Laurence", "Caroline", "Martine", "Jacqueline", "Danielle",
    "Élodie", "Camille", "Léa", "Manon", "Chloé", "Emma", "Inès", "Jade", "Louise",
    "Alice", "Lina", "Zoé", "Léna", "Juliette", "Margaux", "Clémence", "Anaïs",
    "Océane", "Mathilde", "Pauline", "Laëtitia", "Mélanie", "Virginie", "Delphine",
    "Corinne", "Agnès", "Béatrice", "Odile", "Geneviève", "Simone", "Yvette",
    "Madeleine", "Suzanne", "Jeanne", "Denise", "Germaine", "Colette", "Josiane",
    "Régine", "Gisèle", "Paulette", "Thérèse", "Cécile", "Claire", "Florence",
    "Karine", "Séverine", "Audrey", "Charlotte", "Lucie", "Sarah", "Marion",
    "Justine", "Laura", "Amandine", "Noémie", "Maëlle", "Maëva", "Joséphine",
    "Noëlle", "Solène", "Bérénice", "Éloïse", "Héloïse", "Adèle", "Agathe",
    "Capucine", "Romane", "Ambre", "Rose", "Anna", "Eva", "Elsa", "Lucille",
    "Estelle", "Fabienne", "Ghislaine", "Huguette", "Irène", "Josette", "Lydie",
    "Micheline", "Mireille", "Nadège", "Pascale", "Roselyne", "Solange", "Yolande",
    "Marie-Claire", "Marie-Hélène", "Anne-Sophie", "Marie-Noëlle", "Marie-Thérèse",
    "Marie-France", "Célia", "Maïwenn", "Faustine", "Gaëlle", "Annick", "Bénédicte",
    "Clotilde", "Églantine", "Eugénie", "France", "Gwenaëlle", "Ludivine", "Ophélie",
    "Perrine", "Rachel", "Salomé",
};

constexpr std::string_view kFrenchFamily[] = {
    "Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois",
    "Moreau", "Laurent", "Simon", "Michel", "Lefèvre", "Lefebvre", "Leroy", "Roux",
    "David", "Bertrand", "Morel", "Fournier", "Girard", "Bonnet", "Dupont",
    "Lambert", "Fontaine", "Rousseau", "Vincent", "Muller", "Faure", "André",
    "Mercier", "Blanc", "Guérin", "Boyer", "Garnier", "Chevalier", "François",
    "Legrand", "Gauthier", "Garcia", "Perrin", "Robin", "Clément", "Morin",
    "Nicolas", "Henry", "Roussel", "Mathieu", "Gautier", "Masson", "Marchand",
    "Duval", "Denis", "Dumont", "Marie", "Lemaire", "Noël", "Meyer", "Dufour",
    "Meunier", "Brun", "Blanchard", "Giraud", "Joly", "Rivière", "Lucas", "Brunet",
    "Gaillard", "Barbier", "Arnaud", "Martinez", "Gérard", "Roche", "Renard",
    "Schmitt", "Roy", "Leroux", "Colin", "Vidal", "Caron", "Picard", "Roger",
    "Fabre", "Aubert", "Lemoine", "Renaud", "Dumas", "Lacroix", "Olivier",
    "Philippe", "Bourgeois", "Pierre", "Benoît", "Rey", "Leclerc", "Payet",
    "Rolland", "Leclercq", "Guillaume", "Lecomte", "Lopez", "Jean", "Dupuy",
    "Guillot", "Hubert", "Berger", "Carpentier", "Sanchez", "Dupuis", "Moulin",
    "Louis", "Deschamps", "Huet", "Vasseur", "Perez", "Boucher", "Fleury", "Royer",
    "Klein", "Jacquet", "Adam", "Paris", "Poirier", "Marty", "Aubry", "Guyot",
    "Carré", "Charles", "Renault", "Charpentier", "Ménard", "Maillard", "Baron",
    "Bertin", "Bailly", "Hervé", "Schneider", "Fernandez", "Le Gall", "Collet",
    "Léger", "Bouvier", "Julien", "Prévost", "Millet", "Perrot", "Daniel",
    "Le Roux", "Cousin", "Germain", "Breton", "Besson", "Langlois", "Rémy",
    "Le Goff", "Pelletier", "Lévêque", "Perrier", "Leblanc", "Barré", "Lebrun",
    "Marchal", "Weber", "Mallet", "Hamon", "Boulanger", "Jacob", "Monnier",
    "Michaud", "Rodriguez", "Guichard", "Gillet", "Étienne", "Grondin", "Poulain",
    "Tessier", "Chevallier", "Collin", "Chauvin", "Da Silva", "Bouchet", "Gay",
    "Lemaître", "Bénard", "Maréchal", "Humbert", "Reynaud", "Antoine", "Hoarau",
    "Perret", "Barthélemy", "Cordier", "Pichon", "Lejeune", "Gilbert", "Lamy",
    "Delaunay", "Pasquier", "Carlier", "Laporte", "Béranger", "Desjardins",
    "Thibault", "Lefort", "Chrétien", "Pépin", "Châtelain", "Féraud", "Évrard",
    "Després", "Cléry", "Dieudonné", "Fréchette", "Gaudé", "Hébert", "Jourdain",
    "Lelièvre", "Mézières", "Nédélec", "Pâris", "Quéré", "Sénéchal", "Thébault",
    "Vallée", "D'Almeida", "Saint-Martin", "Du Plessis",
};

constexpr std::string_view kEnglishMale[] = {
    "James", "John", "Robert", "Michael", "William", "David", "Richard", "Joseph",
    "Thomas", "Charles", "Christopher", "Daniel", "Matthew", "Anthony", "Mark",
    "Donald", "Steven", "Paul", "Andrew", "Joshua", "Kenneth", "Kevin", "Brian",
    "George", "Timothy", "Ronald", "Edward", "Jason", "Jeffrey", "Ryan", "Jacob",
    "Gary", "Nicholas", "Eric", "Jonathan", "Stephen", "Larry", "Justin", "Scott",
    "Brandon", "Benjamin", "Samuel", "Gregory", "Alexander", "Frank", "Patrick",
    "Raymond", "Jack", "Dennis", "Jerry", "Tyler", "Aaron", "Adam", "Nathan",
    "Henry", "Douglas", "Zachary", "Peter", "Kyle", "Noah", "Ethan", "Jeremy",
    "Walter", "Christian", "Keith", "Roger", "Terry", "Austin", "Sean", "Gerald",
    "Carl", "Harold", "Dylan", "Arthur", "Lawrence", "Jordan", "Jesse", "Bryan",
    "Billy", "Bruce", "Gabriel", "Joe", "Logan", "Alan", "Albert", "Elijah",
    "Wayne", "Randy", "Vincent", "Mason", "Roy", "Ralph", "Bobby", "Russell",
    "Bradley", "Philip", "Eugene", "Oliver", "Harry", "Charlie", "Alfie",
    "Freddie", "Theo", "Archie", "Leo", "Oscar", "Toby", "Rory", "Callum", "Connor",
    "Liam", "Owen", "Rhys", "Gareth", "Declan", "Alistair", "Hamish", "Fraser",
    "Ewan", "Malcolm", "Nigel", "Graham", "Colin", "Trevor", "Clive", "Derek",
    "Stuart", "Neil", "Ian", "Martin", "Simon", "Lewis", "Finlay", "Reuben",
};

constexpr std::string_view kEnglishFemale[] = {
    "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan",
    "Jessica", "Sarah", "Karen", "Lisa", "Nancy", "Betty", "Margaret", "Sandra",
    "Ashley", "Kimberly", "Emily", "Donna", "Michelle", "Carol", "Amanda",
    "Dorothy", "Melissa", "Deborah", "Stephanie", "Rebecca", "Sharon", "Laura",
    "Cynthia", "Kathleen", "Amy", "Angela", "Shirley", "Anna", "Brenda", "Pamela",
    "Emma", "Nicole", "Helen", "Samantha", "Katherine", "Christine", "Debra",
    "Rachel", "Carolyn", "Janet", "Catherine", "Maria", "Heather", "Diane", "Ruth",
    "Julie", "Olivia", "Joyce", "Virginia", "Victoria", "Kelly", "Lauren",
    "Christina", "Joan", "Evelyn", "Judith", "Megan", "Andrea", "Cheryl", "Hannah",
    "Jacqueline", "Martha", "Gloria", "Teresa", "Ann", "Sara", "Madison", "Frances",
    "Kathryn", "Janice", "Jean", "Abigail", "Alice", "Judy", "Sophia", "Grace",
    "Denise", "Amber", "Doris", "Marilyn", "Danielle", "Beverly", "Isabella",
    "Theresa", "Diana", "Natalie", "Brittany", "Charlotte", "Marie", "Kayla",
    "Lori", "Amelia", "Isla", "Ava", "Mia", "Ivy", "Poppy", "Freya", "Florence",
    "Rosie", "Willow", "Evie", "Phoebe", "Imogen", "Harriet", "Eleanor",
    "Beatrice", "Matilda", "Niamh", "Siobhan", "Aoife", "Fiona", "Morag", "Gwen",
    "Bethan", "Zoë", "Renée", "Chloe", "Lucy", "Holly", "Jasmine", "Maisie",
};

constexpr std::string_view kEnglishFamily[] = {
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson",
    "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee",
    "Thompson", "White", "Harris", "Clark", "Lewis", "Robinson", "Walker", "Young",
    "Allen", "King", "Wright", "Scott", "Hill", "Green", "Adams", "Baker", "Nelson",
    "Carter", "Mitchell", "Roberts", "Turner", "Phillips", "Campbell", "Parker",
    "Evans", "Edwards", "Collins", "Stewart", "Morris", "Murphy", "Cook", "Rogers",
    "Morgan", "Cooper", "Peterson", "Bailey", "Reed", "Kelly", "Howard", "Cox",
    "Ward", "Richardson", "Watson", "Brooks", "Wood", "James", "Bennett", "Gray",
    "Hughes", "Price", "Sanders", "Myers", "Long", "Ross", "Foster", "Powell",
    "Jenkins", "Perry", "Russell", "Sullivan", "Bell", "Coleman", "Butler",
    "Henderson", "Barnes", "Fisher", "Graham", "Wallace", "West", "Cole", "Hayes",
    "Gibson", "Ellis", "Stevens", "Murray", "Ford", "Marshall", "Owens",
    "McDonald", "Harrison", "Kennedy", "Wells", "Palmer", "Holmes", "Hunt", "Black",
    "Shaw", "Mills", "Knight", "Lloyd", "Davies", "Hall", "Wilkinson", "Patel",
    "Khan", "O'Brien", "O'Neill", "O'Connor", "Fitzgerald", "MacLeod", "Robertson",
    "Thomson", "Reid", "Fraser", "Hamilton", "Morrison", "Kerr", "Paterson",
    "Simpson", "Cunningham", "Johnston", "Duncan", "Chapman", "Harvey", "Pearson",
    "Atkinson", "Webb", "Dixon", "Ashworth", "Barker", "Fletcher", "Griffiths",
    "Hopkins", "Jarvis", "Kirby", "Lawson", "Newton", "Oakley", "Pritchard",
    "Quinn", "Rowe", "Sheppard", "Thornton", "Underwood", "Vaughan", "Whitaker",
    "Yates", "Abbott", "Bishop", "Cartwright", "Dawson", "Fowler", "Gardner",
    "Hartley", "Ingram", "Jennings", "Lambert", "Marsh", "Norris", "Osborne",
    "Pollard", "Rhodes", "Sutton", "Tucker", "Walsh", "Wheeler", "Brennan", "Doyle",
    "Flanagan", "Gallagher", "Hennessy", "Keane", "Lynch", "Nolan", "Reilly",
    "Sweeney", "Byrne", "Ashby-Clarke", "Hayward-Jones", "Armstrong", "Bradshaw",
    "Crawford", "Douglas", "Elliott", "Fairbanks", "Gordon", "Hudson", "Irving",
    "Jefferson", "Kingsley", "Lancaster", "Montgomery", "Nash", "Ogden", "Preston",
    "Radcliffe", "Sinclair", "Templeton", "Upton", "Wainwright", "Whitfield",
};

constexpr FrenchCity kFrenchCities[] = {
    {"Paris", "750", 20, "1 99 00"},
    {"Lyon", "6900", 9, "4 65 71"},
    {"Marseille", "130", 16, "4 65 71"},
    {"Toulouse", "31000", 0, "5 36 49"},
    {"Nice", "06000", 0, "4 65 71"},
    {"Nantes", "44000", 0, "2 61 91"},
    {"Strasbourg", "67000", 0, "3 53 01"},
    {"Montpellier", "34000", 0, "4 65 71"},
    {"Bordeaux", "33000", 0, "5 36 49"},
    {"Lille", "59000", 0, "3 53 01"},
    {"Rennes", "35000", 0, "2 61 91"},
    {"Reims", "51100", 0, "3 53 01"},
    {"Le Havre", "76600", 0, "2 61 91"},
    {"Saint-Étienne", "42000", 0, "4 65 71"},
    {"Toulon", "83000", 0, "4 65 71"},
    {"Grenoble", "38000", 0, "4 65 71"},
    {"Dijon", "21000", 0, "3 53 01"},
    {"Angers", "49000", 0, "2 61 91"},
    {"Nîmes", "30000", 0, "4 65 71"},
    {"Villeurbanne", "69100", 0, "4 65 71"},
    {"Clermont-Ferrand", "63000", 0, "4 65 71"},
    {"Le Mans", "72000", 0, "2 61 91"},
    {"Aix-en-Provence", "13100", 0, "4 65 71"},
    {"Brest", "29200", 0, "2 61 91"},
    {"Tours", "37000", 0, "2 61 91"},
    {"Amiens", "80000", 0, "3 53 01"},
    {"Limoges", "87000", 0, "5 36 49"},
    {"Annecy", "74000", 0, "4 65 71"},
    {"Perpignan", "66000", 0, "4 65 71"},
    {"Besançon", "25000", 0, "3 53 01"},
    {"Metz", "57000", 0, "3 53 01"},
    {"Orléans", "45000", 0, "2 61 91"},
    {"Rouen", "76000", 0, "2 61 91"},
    {"Mulhouse", "68100", 0, "3 53 01"},
    {"Caen", "14000", 0, "2 61 91"},
    {"Nancy", "54000", 0, "3 53 01"},
    {"Argenteuil", "95100", 0, "1 99 00"},
    {"Montreuil", "93100", 0, "1 99 00"},
    {"Roubaix", "59100", 0, "3 53 01"},
    {"Avignon", "84000", 0, "4 65 71"},
    {"Poitiers", "86000", 0, "5 36 49"},
    {"Pau", "64000", 0, "5 36 49"},
    {"La Rochelle", "17000", 0, "5 36 49"},
    {"Versailles", "78000", 0, "1 99 00"},
    {"Créteil", "94000", 0, "1 99 00"},
    {"Boulogne-Billancourt", "92100", 0, "1 99 00"},
    {"Saint-Denis", "93200", 0, "1 99 00"},
    {"Nanterre", "92000", 0, "1 99 00"},
    {"Vitry-sur-Seine", "94400", 0, "1 99 00"},
    {"Béziers", "34500", 0, "4 65 71"},
    {"Valence", "26000", 0, "4 65 71"},
    {"Chambéry", "73000", 0, "4 65 71"},
    {"Quimper", "29000", 0, "2 61 91"},
    {"Troyes", "10000", 0, "3 53 01"},
    {"Lorient", "56100", 0, "2 61 91"},
    {"Niort", "79000", 0, "5 36 49"},
    {"Évreux", "27000", 0, "2 61 91"},
    {"Arles", "13200", 0, "4 65 71"},
    {"Sète", "34200", 0, "4 65 71"},
    {"Colmar", "68000", 0, "3 53 01"},
    {"Vénissieux", "69200", 0, "4 65 71"},
    {"Saint-Nazaire", "44600", 0, "2 61 91"},
};

constexpr std::string_view kFrenchStreetTypes[] = {
    "rue", "rue", "rue", "rue", "avenue", "avenue", "boulevard", "place", "allée",
    "impasse", "chemin", "quai", "cours", "square",
};

constexpr std::string_view kFrenchStreetNames[] = {
    "de la République", "Victor Hugo", "Jean Jaurès", "des Lilas",
    "du Général de Gaulle", "Pasteur", "de la Gare", "des Écoles", "Émile Zola",
    "du Château", "de l'Église", "des Tilleuls", "Gambetta", "Voltaire",
    "de la Paix", "du Moulin", "des Roses", "Saint-Michel", "Carnot", "de Verdun",
    "Aristide Briand", "Anatole France", "du Stade", "des Acacias",
    "de la Fontaine", "Jules Ferry", "Molière", "de Bretagne", "Marcel Pagnol",
    "Colbert", "Sainte-Catherine", "des Peupliers", "du Maréchal Foch",
    "de la Libération", "des Marronniers", "du 8 Mai 1945", "George Sand",
    "Paul Éluard", "des Cerisiers", "de l'Hôtel de Ville", "du Port",
    "des Vignes", "de la Forêt", "des Jardins", "Pierre et Marie Curie",
    "de Provence", "Lamartine", "Condorcet", "des Mimosas", "Albert Camus",
    "de la Croix-Rousse", "du Faubourg Saint-Antoine", "de Lorraine",
    "Joséphine Baker", "Simone Veil", "de l'Abbé Grégoire", "des Prés",
};

constexpr UkCity kUkCities[] = {
    {"London", "SW", 1, 20},   {"London", "N", 1, 22},      {"London", "E", 1, 18},
    {"Manchester", "M", 1, 40}, {"Birmingham", "B", 1, 99},  {"Leeds", "LS", 1, 29},
    {"Liverpool", "L", 1, 39},  {"Bristol", "BS", 1, 16},    {"Sheffield", "S", 1, 36},
    {"Edinburgh", "EH", 1, 17}, {"Glasgow", "G", 1, 84},     {"Cardiff", "CF", 10, 24},
    {"Oxford", "OX", 1, 4},     {"Cambridge", "CB", 1, 5},   {"Brighton", "BN", 1, 3},
    {"York", "YO", 1, 32},      {"Norwich", "NR", 1, 14},    {"Nottingham", "NG", 1, 17},
    {"Newcastle upon Tyne", "NE", 1, 15}, {"Bath", "BA", 1, 2}, {"Exeter", "EX", 1, 4},
    {"Leicester", "LE", 1, 5},  {"Belfast", "BT", 1, 17},    {"Aberdeen", "AB", 10, 25},
};

constexpr std::string_view kUkStreets[] = {
    "Church Road", "High Street", "Station Road", "Victoria Road", "Green Lane",
    "Manor Road", "Park Avenue", "Queens Road", "Kings Road", "Mill Lane",
    "The Crescent", "Grange Road", "Albert Road", "Springfield Road",
    "Windsor Road", "Highfield Road", "London Road", "Chestnut Close",
    "Orchard Way", "St John's Road", "Meadow View", "Castle Street",
    "Willow Drive", "New Road", "School Lane", "The Green", "Beech Grove",
    "Harbour Walk", "Elm Terrace", "Riverside", "Abbey Road", "Ferndale Gardens",
};

constexpr UsCity kUsCities[] = {
    {"Boston", "MA", "021", "617"},       {"New York", "NY", "100", "212"},
    {"Chicago", "IL", "606", "312"},      {"Seattle", "WA", "981", "206"},
    {"Austin", "TX", "787", "512"},       {"Denver", "CO", "802", "303"},
    {"Portland", "OR", "972", "503"},     {"San Francisco", "CA", "941", "415"},
    {"Philadelphia", "PA", "191", "215"}, {"Atlanta", "GA", "303", "404"},
    {"Minneapolis", "MN", "554", "612"},  {"Baltimore", "MD", "212", "410"},
    {"Burlington", "VT", "054", "802"},   {"Madison", "WI", "537", "608"},
    {"Raleigh", "NC", "276", "919"},      {"Nashville", "TN", "372", "615"},
    {"New Orleans", "LA", "701", "504"},  {"Salt Lake City", "UT", "841", "801"},
    {"Pittsburgh", "PA", "152", "412"},   {"Providence", "RI", "029", "401"},
};

constexpr std::string_view kUsStreets[] = {
    "Maple Street", "Oak Avenue", "Elm Street", "Washington Avenue", "Main Street",
    "Cedar Lane", "Park Place", "Lincoln Road", "Pine Street", "Lakeview Drive",
    "Hillcrest Road", "Jefferson Street", "Sunset Boulevard", "Walnut Street",
    "Spring Street", "Franklin Avenue", "Highland Avenue", "River Road",
    "Chestnut Street", "Madison Avenue", "Cherry Lane", "Forest Drive",
    "2nd Street", "5th Avenue", "Willow Way", "Meadowbrook Court",
};

}  // namespace

Words french_male_given() { return kFrenchMale; }
Words french_female_given() { return kFrenchFemale; }
Words french_family() { return kFrenchFamily; }
Words english_male_given() { return kEnglishMale; }
Words english_female_given() { return kEnglishFemale; }
Words english_family() { return kEnglishFamily; }
std::span<const FrenchCity> french_cities() { return kFrenchCities; }
Words french_street_types() { return kFrenchStreetTypes; }
Words french_street_names() { return kFrenchStreetNames; }
std::span<const UkCity> uk_cities() { return kUkCities; }
Words uk_streets() { return kUkStreets; }
std::span<const UsCity> us_cities() { return kUsCities; }
Words us_streets() { return kUsStreets; }

}  // namespace medvault::demo::vocab
